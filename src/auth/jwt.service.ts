import { createSecretKey, type KeyObject } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import jwt from 'jsonwebtoken';
import { APP_CONFIG, type AppConfig } from '../config/app-config';

export interface AuthUser {
  id: string;
  roles: string[];
}

export class InvalidTokenError extends Error {
  override readonly name = 'InvalidTokenError';
}

/** HS256 tokens: `sub` is the user id, `roles` may contain "admin". */
@Injectable()
export class JwtService {
  /** Handed to jsonwebtoken as a key object: given a string it first tries (and fails) to read a public key on every call. */
  private readonly key: KeyObject;

  constructor(@Inject(APP_CONFIG) config: Pick<AppConfig, 'jwtSecret'>) {
    this.key = createSecretKey(Buffer.from(config.jwtSecret));
  }

  verify(token: string): AuthUser {
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
    return {
      id: payload.sub,
      roles: Array.isArray(roles) ? roles.filter((r): r is string => typeof r === 'string') : [],
    };
  }

  sign(user: AuthUser, expiresInSec = 3600): string {
    return jwt.sign({ roles: user.roles }, this.key, {
      algorithm: 'HS256',
      subject: user.id,
      expiresIn: expiresInSec,
    });
  }
}
