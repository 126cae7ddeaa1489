import { STATUS_CODES } from 'node:http';
import {
  Catch,
  HttpException,
  HttpStatus,
  Logger,
  type ArgumentsHost,
  type ExceptionFilter,
} from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { DependencyUnavailableError } from '../common/dependency.errors';
import { UnknownJobKindError } from '../core/job-registry';
import { SubmitRateLimitedError } from '../core/submit-rate-limiter';
import { TokenQuotaExceededError } from '../core/token-quota';

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
}

export function errorBody(statusCode: number, message: string): ErrorBody {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message };
}

function httpMessage(exception: HttpException): string {
  const response = exception.getResponse();
  if (typeof response === 'string') return response;
  const message = (response as { message?: unknown }).message;
  if (Array.isArray(message)) return message.join('; ');
  return typeof message === 'string' ? message : exception.message;
}

/** Every error leaves as `{ statusCode, error, message }`; unexpected ones say nothing inside. */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpError');

  catch(exception: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<FastifyReply>();
    const body = this.toBody(exception, response);
    response
      .status(body.statusCode)
      .header('Content-Type', 'application/json; charset=utf-8')
      .send(body);
  }

  private toBody(exception: unknown, response: FastifyReply): ErrorBody {
    if (exception instanceof TokenQuotaExceededError) {
      response.header('Retry-After', String(exception.retryAfterSec));
    }
    if (exception instanceof HttpException) {
      return errorBody(exception.getStatus(), httpMessage(exception));
    }
    if (exception instanceof UnknownJobKindError) {
      return errorBody(HttpStatus.NOT_FOUND, exception.message);
    }
    if (exception instanceof SubmitRateLimitedError) {
      response.header('Retry-After', String(exception.retryAfterSec));
      return errorBody(HttpStatus.TOO_MANY_REQUESTS, exception.message);
    }
    if (exception instanceof DependencyUnavailableError) {
      this.logger.warn(`${exception.message}: ${String(exception.cause)}`);
      return errorBody(HttpStatus.SERVICE_UNAVAILABLE, `${exception.message}; try again later`);
    }
    this.logger.error(
      exception instanceof Error ? (exception.stack ?? exception.message) : exception,
    );
    return errorBody(HttpStatus.INTERNAL_SERVER_ERROR, 'internal error');
  }
}
