import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { errorBody } from './http-exception.filter';

const STATUS_BY_CODE: Record<string, [number, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'request line and headers are too large (the URL counts)'],
  HPE_URI_TOO_LONG: [414, 'the URL is too long'],
  HPE_REQUEST_TIMEOUT: [408, 'the request took too long to arrive'],
};

/** How long a refused connection is read and discarded after its answer (a lingering close). */
export const LINGER_MS = 5_000;
const answered = new WeakSet<Duplex>();

/**
 * Requests Node's HTTP parser refuses never reach Nest; Node would answer them with an empty
 * body. They get the error shape of every other error instead (docs/errors.md).
 *
 * The connection is then read and discarded until the client half-closes or LINGER_MS pass:
 * closing it with the rest of the request unread would reset it, and a client still sending
 * (a body behind an oversized head) would lose the answer to that reset (RFC 9112 §9.6).
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (answered.has(socket)) return;
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, message] = STATUS_BY_CODE[error.code ?? ''] ?? [400, 'malformed HTTP request'];
  const body = JSON.stringify(errorBody(status, message));
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
  answered.add(socket);
  socket.on('end', () => socket.destroy());
  const linger = setTimeout(() => socket.destroy(), LINGER_MS).unref();
  socket.on('close', () => clearTimeout(linger));
  socket.resume();
}
