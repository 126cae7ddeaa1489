import { createSecretKey, type KeyObject } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import jwt from 'jsonwebtoken';
import { APP_CONFIG, type AppConfig } from '../config/app-config';

export interface AuthUser {
  id: string;
  roles: string[];
}

/** Verified tokens kept, so that a client's next request skips the HMAC and the parsing. */
const VERIFIED_MAX = 10_000;

interface Verified {
  user: AuthUser;
  /** exp and nbf of the token, in ms; the cached answer holds only between them. */
  expiresAt: number;
  notBefore: number;
}

export class InvalidTokenError extends Error {
  override readonly name = 'InvalidTokenError';
}

/** HS256 tokens: `sub` is the user id, `roles` may contain "admin". */
@Injectable()
export class JwtService {
  /** Handed to jsonwebtoken as a key object: given a string it first tries (and fails) to read a public key on every call. */
  private readonly key: KeyObject;
  private readonly verified = new Map<string, Verified>();

  constructor(@Inject(APP_CONFIG) config: Pick<AppConfig, 'jwtSecret'>) {
    this.key = createSecretKey(Buffer.from(config.jwtSecret));
  }

  verify(token: string, now = Date.now()): AuthUser {
    const known = this.verified.get(token);
    if (known && now >= known.notBefore) {
      if (now < known.expiresAt) return known.user;
      this.verified.delete(token);
      throw new InvalidTokenError('token expired');
    }
    const { user, payload } = this.check(token);
    if (this.verified.size >= VERIFIED_MAX) this.verified.clear();
    this.verified.set(token, {
      user,
      expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : Infinity,
      notBefore: typeof payload.nbf === 'number' ? payload.nbf * 1000 : -Infinity,
    });
    return user;
  }

  private check(token: string): { user: AuthUser; payload: jwt.JwtPayload } {
    let payload: string | jwt.JwtPayload;
    try {
      payload = jwt.verify(token, this.key, { algorithms: ['HS256'] });
    } catch (error) {
      if (error instanceof jwt.TokenExpiredError) throw new InvalidTokenError('token expired');
      throw new InvalidTokenError('token is invalid');
    }
    if (typeof payload === 'string' || typeof payload.sub !== 'string' || payload.sub === '') {
      throw new InvalidTokenError('token has no subject');
    }
    if (payload.sub.length > 200) throw new InvalidTokenError('token subject is too long');
    const roles: unknown = (payload as { roles?: unknown }).roles;
    // Shared by every request presenting this token: nobody may change it.
    const user = Object.freeze({
      id: payload.sub,
      roles: Object.freeze(
        Array.isArray(roles) ? roles.filter((r): r is string => typeof r === 'string') : [],
      ) as string[],
    });
    return { user, payload };
  }

  sign(user: AuthUser, expiresInSec = 3600): string {
    return jwt.sign({ roles: user.roles }, this.key, {
      algorithm: 'HS256',
      subject: user.id,
      expiresIn: expiresInSec,
    });
  }
}
