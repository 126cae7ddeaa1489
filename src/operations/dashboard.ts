import { existsSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { join, resolve } from 'node:path';
import send from '@fastify/send';
import type { RequestWithBody } from '../http/json-body';
import { pathOf, sendError, sendRaw } from '../http/raw-response';
import { pathBelow } from './admin-session';

/** The repository root, from src/operations (ts-node) as from dist/operations (built). */
const ROOT = resolve(__dirname, '..', '..');
export const DASHBOARD_PAGE = join(ROOT, 'web', 'index.html');
/** What `npm run build` compiles web/ and client/ into (tsc -p web/tsconfig.json). */
export const DASHBOARD_ASSETS = join(ROOT, 'dist', 'web');

// Scripts as serve-static typed them (mime-types), not as @fastify/send's table does; the
// Swagger UI files served through @fastify/static share it.
send.mime.define({ 'text/javascript': ['js', 'mjs'] }, true);

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );
}

/** A directory asked for without its slash is sent to it, as serve-static did. */
function redirectToDirectory(req: RequestWithBody, res: ServerResponse): void {
  const url = req.url ?? '/';
  const path = pathOf(req);
  const location = encodeURI(`${path}/`.replace(/^\/+/, '/')) + url.slice(path.length);
  res.setHeader('Content-Security-Policy', "default-src 'none'");
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Location', location);
  const text = `Redirecting to ${escapeHtml(location)}`;
  sendRaw(
    req,
    res,
    301,
    'text/html; charset=UTF-8',
    '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n' +
      `<title>Redirecting</title>\n</head>\n<body>\n<pre>${text}</pre>\n</body>\n</html>\n`,
  );
}

async function serveAsset(
  req: RequestWithBody,
  res: ServerResponse,
  relativePath: string,
): Promise<void> {
  if (req.method === 'GET' || req.method === 'HEAD') {
    const { statusCode, headers, stream, type } = await send(req, relativePath, {
      root: DASHBOARD_ASSETS,
      index: false,
      maxAge: 0,
    });
    if (type === 'file') {
      res.writeHead(statusCode, headers);
      stream.pipe(res);
      return;
    }
    stream.destroy();
    if (type === 'directory') {
      redirectToDirectory(req, res);
      return;
    }
    if (statusCode >= 500) throw new Error(`dashboard asset ${relativePath}: ${statusCode}`);
  }
  sendError(req, res, 404, `no dashboard asset ${relativePath}`);
}

async function servePage(req: RequestWithBody, res: ServerResponse): Promise<void> {
  if (!existsSync(join(DASHBOARD_ASSETS, 'web', 'src', 'main.js'))) {
    sendError(
      req,
      res,
      503,
      'the dashboard is not built: run `npm run build` (tsc -p web/tsconfig.json)',
    );
    return;
  }
  const { statusCode, headers, stream } = await send(req, DASHBOARD_PAGE, {
    etag: false,
    cacheControl: false,
  });
  res.writeHead(statusCode, { ...headers, 'Cache-Control': 'no-cache' });
  stream.pipe(res);
}

/**
 * The live dashboard at `/`: one static page and its compiled scripts, which talk to the REST
 * API and Socket.IO with the token the user signs in with (kept in sessionStorage, never in a URL).
 * Served from the raw request before routing; returns a promise when it answers, undefined when
 * the request is not the dashboard's.
 */
export function serveDashboard(
  req: RequestWithBody,
  res: ServerResponse,
): Promise<void> | undefined {
  const asset = pathBelow(req, '/assets');
  if (asset !== undefined) return serveAsset(req, res, asset);
  const path = pathOf(req);
  if (req.method !== 'GET' || (path !== '/' && path !== '/index.html')) return undefined;
  return servePage(req, res);
}
