import type { ErrorBody } from './types.js';

/** Any failure of a call: the service answered an error, or it could not be reached. */
export class ConveyorError extends Error {
  override name = 'ConveyorError';
}

/** The service answered `{ statusCode, error, message }`. */
export class ConveyorHttpError extends ConveyorError {
  override name = 'ConveyorHttpError';
  constructor(
    readonly status: number,
    readonly body: ErrorBody,
  ) {
    super(`${status} ${body.error}: ${body.message}`);
  }
}
export class BadRequestError extends ConveyorHttpError {
  override name = 'BadRequestError';
}
export class UnauthorizedError extends ConveyorHttpError {
  override name = 'UnauthorizedError';
}
export class ForbiddenError extends ConveyorHttpError {
  override name = 'ForbiddenError';
}
export class NotFoundError extends ConveyorHttpError {
  override name = 'NotFoundError';
}
export class ConflictError extends ConveyorHttpError {
  override name = 'ConflictError';
}
export class RateLimitedError extends ConveyorHttpError {
  override name = 'RateLimitedError';
  constructor(
    status: number,
    body: ErrorBody,
    /** Seconds to wait, from Retry-After. */
    readonly retryAfterSec: number,
  ) {
    super(status, body);
  }
}
export class ServiceUnavailableError extends ConveyorHttpError {
  override name = 'ServiceUnavailableError';
}
/**
 * The server answered a resume (`lastEventId`) with `resync` (over the socket) or 410 (polling
 * GET /events): that event is no longer retained
 * (EVENT_RETENTION_SEC), so what came after it cannot be replayed. The iterator ends with this
 * error; refetch state over REST (`get`, `list`, `log`) and start a new `events()` without
 * `lastEventId` (or a new `watch`, which replays the job's retained history from its start).
 */
export class ResyncRequiredError extends ConveyorError {
  override name = 'ResyncRequiredError';
  constructor(
    /** The event id the client resumed from. */
    readonly lastEventId: string,
    reason: string,
  ) {
    super(`resync: ${reason}`);
  }
}

/** The service could not be reached (connection refused, DNS, aborted). */
export class ConveyorNetworkError extends ConveyorError {
  override name = 'ConveyorNetworkError';
}

export function httpError(res: Response, body: ErrorBody): ConveyorHttpError {
  switch (res.status) {
    case 400:
      return new BadRequestError(res.status, body);
    case 401:
      return new UnauthorizedError(res.status, body);
    case 403:
      return new ForbiddenError(res.status, body);
    case 404:
      return new NotFoundError(res.status, body);
    case 409:
      return new ConflictError(res.status, body);
    case 429:
      return new RateLimitedError(res.status, body, Number(res.headers.get('retry-after') ?? 1));
    case 503:
      return new ServiceUnavailableError(res.status, body);
    default:
      return new ConveyorHttpError(res.status, body);
  }
}

export function isErrorBody(value: unknown): value is ErrorBody {
  const body = value as Partial<ErrorBody> | null;
  return (
    typeof body === 'object' &&
    body !== null &&
    typeof body.statusCode === 'number' &&
    typeof body.message === 'string'
  );
}
