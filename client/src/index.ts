export * from './types.js';
export {
  BadRequestError,
  ConflictError,
  ConveyorError,
  ConveyorHttpError,
  ConveyorNetworkError,
  ForbiddenError,
  NotFoundError,
  RateLimitedError,
  ResyncRequiredError,
  ServiceUnavailableError,
  UnauthorizedError,
} from './errors.js';
export type { StreamOptions, Transport } from './events.js';
export { ConveyorClient, type ConveyorClientOptions } from './client.js';
