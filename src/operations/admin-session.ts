import type { NextFunction, Request, Response } from 'express';
import { InvalidTokenError, type AuthUser, type JwtService } from '../auth/jwt.service';
import { errorBody } from '../http/http-exception.filter';

/**
 * A browser signs in once with an admin token and holds it in an HttpOnly, SameSite=Strict
 * cookie scoped to one path: no token in URLs, none readable by page scripts.
 */
export interface AdminSessionOptions {
  /** The path the cookie is scoped to, e.g. /admin/queues/ui. */
  basePath: string;
  cookie: string;
  /** The sign-in page served to a browser without a valid admin cookie. */
  signInPage: (basePath: string) => string;
}

export function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const index = part.indexOf('=');
    if (index > 0 && part.slice(0, index).trim() === name) {
      return decodeURIComponent(part.slice(index + 1).trim());
    }
  }
  return undefined;
}

type Verdict = { user: AuthUser } | { status: 401 | 403; message: string };

function judge(jwt: JwtService, token: string | undefined): Verdict {
  if (!token) return { status: 401, message: 'sign in with an admin token' };
  let user: AuthUser;
  try {
    user = jwt.verify(token);
  } catch (error) {
    if (error instanceof InvalidTokenError) return { status: 401, message: error.message };
    throw error;
  }
  if (!user.roles.includes('admin')) return { status: 403, message: 'the admin role is required' };
  return { user };
}

function expiry(token: string): number {
  const payload = token.split('.')[1] ?? '';
  const { exp } = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as {
    exp?: unknown;
  };
  return typeof exp === 'number' ? exp : Math.floor(Date.now() / 1000) + 3600;
}

function cookieHeader(
  name: string,
  value: string,
  path: string,
  maxAgeSec: number,
  secure: boolean,
): string {
  return [
    `${name}=${encodeURIComponent(value)}`,
    `Path=${path}`,
    `Max-Age=${Math.max(0, maxAgeSec)}`,
    'HttpOnly',
    'SameSite=Strict',
    ...(secure ? ['Secure'] : []),
  ].join('; ');
}

/**
 * Express middleware in front of an admin-only UI: POST <base>/session signs in, POST
 * <base>/session/end signs out; anything else needs the cookie (or an admin Bearer header).
 * API paths answer JSON errors, pages answer the sign-in page.
 */
export function adminSession(jwt: JwtService, options: AdminSessionOptions) {
  const { basePath, cookie } = options;
  return (req: Request, res: Response, next: NextFunction): void => {
    const secure = req.protocol === 'https';
    if (req.method === 'POST' && req.path === '/session') {
      const token = (req.body as { token?: unknown } | undefined)?.token;
      if (typeof token !== 'string' || token === '' || token.length > 8192) {
        res.status(400).json(errorBody(400, 'token must be a non-empty string (a JWT)'));
        return;
      }
      const verdict = judge(jwt, token);
      if ('status' in verdict) {
        res.status(verdict.status).json(errorBody(verdict.status, verdict.message));
        return;
      }
      const maxAge = expiry(token) - Math.floor(Date.now() / 1000);
      res.setHeader('Set-Cookie', cookieHeader(cookie, token, basePath, maxAge, secure));
      res.status(204).end();
      return;
    }
    if (req.method === 'POST' && req.path === '/session/end') {
      res.setHeader('Set-Cookie', cookieHeader(cookie, '', basePath, 0, secure));
      res.status(204).end();
      return;
    }
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const verdict = judge(jwt, bearer ?? readCookie(req.headers.cookie, cookie));
    if (!('status' in verdict)) {
      next();
      return;
    }
    res.setHeader('Cache-Control', 'no-store');
    if (req.path.startsWith('/api/') || req.method !== 'GET') {
      res.status(verdict.status).json(errorBody(verdict.status, verdict.message));
      return;
    }
    res.status(verdict.status).type('html').send(options.signInPage(basePath));
  };
}
