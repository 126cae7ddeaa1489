import { APICallError } from 'ai';
import { NonRetryableJobError } from '../core/job.errors';

/**
 * What a provider failure means (docs/code-generation.md): try the next provider, fail this
 * attempt (the job's retry policy applies), or fail the job at once.
 */
export type FailureDisposition = 'next-provider' | 'fail-attempt' | 'fail-job';

export interface ClassifiedFailure {
  disposition: FailureDisposition;
  /** One line, no key, no request body. */
  message: string;
  /** The failure says something about the provider's health (feeds the circuit breaker). */
  countsAgainstProvider: boolean;
}

/** The provider sent nothing within LLM_FIRST_TOKEN_TIMEOUT_MS. */
export class FirstTokenTimeoutError extends Error {
  override readonly name = 'FirstTokenTimeoutError';
  constructor(readonly timeoutMs: number) {
    super(`no token within ${timeoutMs} ms`);
  }
}

/** The provider refused the request itself (400 and other 4xx but auth and rate limits). */
export class LlmBadRequestError extends NonRetryableJobError {
  override readonly name = 'LlmBadRequestError';
}

/** This attempt failed (the stream broke after its first token, or an unexpected failure): the job may retry. */
export class LlmAttemptFailedError extends Error {
  override readonly name = 'LlmAttemptFailedError';
}

/** No provider could answer this attempt (every one failed over or is cooling down). */
export class LlmUnavailableError extends Error {
  override readonly name = 'LlmUnavailableError';
}

const MOVE_ON_STATUS = new Set([401, 403, 408, 409, 429]);
const NETWORK_CODES =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|UND_ERR_SOCKET|UND_ERR_CONNECT_TIMEOUT|other side closed|socket hang up|terminated/i;
/** Anthropic's (and others') error types inside a stream or a JSON error body. */
const MOVE_ON_TYPES = new Set([
  'overloaded_error',
  'rate_limit_error',
  'api_error',
  'authentication_error',
  'permission_error',
  'timeout_error',
]);
const BAD_REQUEST_TYPES = new Set([
  'invalid_request_error',
  'not_found_error',
  'request_too_large',
]);

function oneLine(text: string, max = 300): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/** Codes and messages down the cause chain; errors from fetch may come from another realm. */
function codeChain(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; typeof current === 'object' && current !== null && depth < 5; depth += 1) {
    const { code, message, cause } = current as {
      code?: unknown;
      message?: unknown;
      cause?: unknown;
    };
    if (typeof code === 'string') parts.push(code);
    if (typeof message === 'string') parts.push(message);
    current = cause;
  }
  return parts.join(' ');
}

function errorType(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  if (typeof record.type === 'string' && record.type !== 'error') return record.type;
  if ('error' in record) return errorType(record.error);
  return undefined;
}

function errorMessage(value: unknown): string {
  if (value instanceof Error) return value.message;
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    if (typeof record.message === 'string') return record.message;
    if ('error' in record) return errorMessage(record.error);
    return JSON.stringify(value);
  }
  return String(value);
}

/**
 * Sorts a failure of one provider call. Before the first token retryable and auth failures move
 * on; after it every failure fails the attempt (tokens already went out); a bad request fails
 * the job.
 */
export function classifyFailure(error: unknown, afterFirstToken: boolean): ClassifiedFailure {
  let disposition: FailureDisposition;
  let message: string;
  let countsAgainstProvider = true;
  if (error instanceof FirstTokenTimeoutError) {
    disposition = 'next-provider';
    message = `timeout: ${error.message}`;
  } else if (APICallError.isInstance(error)) {
    const status = error.statusCode;
    if (status === undefined) {
      disposition =
        error.isRetryable || NETWORK_CODES.test(codeChain(error))
          ? 'next-provider'
          : 'fail-attempt';
      message = `connection failed: ${oneLine(codeChain(error.cause) || error.message)}`;
    } else if (MOVE_ON_STATUS.has(status) || status >= 500) {
      disposition = 'next-provider';
      message = `HTTP ${status}: ${oneLine(error.message)}`;
    } else {
      disposition = 'fail-job';
      countsAgainstProvider = false;
      message = `HTTP ${status}: ${oneLine(error.message)}`;
    }
  } else if (NETWORK_CODES.test(codeChain(error))) {
    disposition = 'next-provider';
    message = `connection failed: ${oneLine(codeChain(error))}`;
  } else {
    const type = errorType(error);
    message = oneLine(type ? `${type}: ${errorMessage(error)}` : errorMessage(error));
    if (type !== undefined && MOVE_ON_TYPES.has(type)) disposition = 'next-provider';
    else if (type !== undefined && BAD_REQUEST_TYPES.has(type)) {
      disposition = 'fail-job';
      countsAgainstProvider = false;
    } else disposition = 'fail-attempt';
  }
  if (afterFirstToken) disposition = 'fail-attempt';
  return { disposition, message, countsAgainstProvider };
}
