import type { ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { InvalidTokenError, type AuthUser, type JwtService } from '../auth/jwt.service';
import type { RequestWithBody } from '../http/json-body';
import { pathOf, sendError, sendRaw } from '../http/raw-response';

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
 * The part of the request path below `basePath` ('/' for the base itself), or undefined when
 * the request is not below it; matched without regard to case, as Express mounted it.
 */
export function pathBelow(req: RequestWithBody, basePath: string): string | undefined {
  const path = pathOf(req);
  if (path.slice(0, basePath.length).toLowerCase() !== basePath.toLowerCase()) return undefined;
  const rest = path.slice(basePath.length);
  if (rest === '') return '/';
  return rest.startsWith('/') ? rest : undefined;
}

/**
 * In front of an admin-only UI, on the raw request before routing: POST <base>/session signs
 * in, POST <base>/session/end signs out; anything else needs the cookie (or an admin Bearer
 * header). API paths answer JSON errors, pages answer the sign-in page. `next` is called only
 * when the request may go on; the caller checks that it is below `basePath`.
 */
export function adminSession(jwt: JwtService, options: AdminSessionOptions) {
  const { basePath, cookie } = options;
  return (req: RequestWithBody, res: ServerResponse, next: () => void): void => {
    const path = pathBelow(req, basePath) ?? '/';
    const secure = (req.socket as Partial<TLSSocket>).encrypted === true;
    if (req.method === 'POST' && path === '/session') {
      const token = (req.body as { token?: unknown } | undefined)?.token;
      if (typeof token !== 'string' || token === '' || token.length > 8192) {
        sendError(req, res, 400, 'token must be a non-empty string (a JWT)');
        return;
      }
      const verdict = judge(jwt, token);
      if ('status' in verdict) {
        sendError(req, res, verdict.status, verdict.message);
        return;
      }
      const maxAge = expiry(token) - Math.floor(Date.now() / 1000);
      res.setHeader('Set-Cookie', cookieHeader(cookie, token, basePath, maxAge, secure));
      res.statusCode = 204;
      res.end();
      return;
    }
    if (req.method === 'POST' && path === '/session/end') {
      res.setHeader('Set-Cookie', cookieHeader(cookie, '', basePath, 0, secure));
      res.statusCode = 204;
      res.end();
      return;
    }
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const verdict = judge(jwt, bearer ?? readCookie(req.headers.cookie, cookie));
    if (!('status' in verdict)) {
      next();
      return;
    }
    res.setHeader('Cache-Control', 'no-store');
    if (path.startsWith('/api/') || req.method !== 'GET') {
      sendError(req, res, verdict.status, verdict.message);
      return;
    }
    sendRaw(req, res, verdict.status, 'text/html; charset=utf-8', options.signInPage(basePath));
  };
}
