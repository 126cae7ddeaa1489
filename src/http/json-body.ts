import type { IncomingMessage, ServerResponse } from 'node:http';
import bodyParser from 'body-parser';
import { sendError } from './raw-response';

export type RequestWithBody = IncomingMessage & { body?: unknown };

interface BodyParserError {
  type?: string;
  status?: number;
  message?: string;
}

/**
 * JSON bodies are read by body-parser before routing, as they were on Express: the same media
 * types (application/json only, other bodies left unread), charsets, encodings, strictness
 * (an object or array) and limits. Its refusals answer in the error shape (docs/errors.md).
 * Calls `next` with nothing when the request goes on, `true` when it was answered here, or
 * an unexpected error.
 */
export function jsonBody(limitBytes: number) {
  const parse = bodyParser.json({ limit: limitBytes });
  return (req: RequestWithBody, res: ServerResponse, next: (outcome?: unknown) => void): void => {
    parse(req, res, (error?: unknown) => {
      if (error === undefined || error === null) {
        next();
        return;
      }
      const { type, status, message } = error as BodyParserError;
      if (type === 'entity.too.large') {
        sendError(req, res, 413, `request body exceeds ${limitBytes} bytes`);
      } else if (type === 'entity.parse.failed') {
        sendError(req, res, 400, 'request body is not valid JSON');
      } else if (typeof status === 'number' && status >= 400 && status < 500) {
        sendError(req, res, status, String(message));
      } else {
        next(error);
        return;
      }
      next(true);
    });
  };
}
