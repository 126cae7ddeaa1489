import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorBody } from './http-exception.filter';

/** What the routes answered on Express (`res.send`): no body to a HEAD request. */
export function sendRaw(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string,
): void {
  res.statusCode = status;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(req.method === 'HEAD' ? undefined : body);
}

export function sendJson(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  body: unknown,
): void {
  sendRaw(req, res, status, 'application/json; charset=utf-8', JSON.stringify(body));
}

/** An error in the shape of every other one (docs/errors.md), from a raw handler. */
export function sendError(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  message: string,
): void {
  sendJson(req, res, status, errorBody(status, message));
}

/** The path of a request without its query, as the client sent it (not decoded). */
export function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const end = url.search(/[?#]/);
  return end === -1 ? url : url.slice(0, end);
}
