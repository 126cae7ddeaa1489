import type { JobChange } from '../core/job-transition';
import type { JsonValue } from '../core/job.types';
import { isUuid } from '../common/ids';
import { inputProblem } from '../common/params-validation';

/** What an external worker asked for, once its message has been read. */
export interface StatusRequest {
  jobId: string;
  userId?: string;
  change:
    | Exclude<JobChange, { type: 'processing' | 'retrying' | 'cancelled' | 'requeued' }>
    | {
        type: 'processing';
      };
}

export type DropReason = 'malformed' | 'invalid' | 'unknownJob' | 'notAllowed';

export type ParsedStatus =
  { ok: true; request: StatusRequest } | { ok: false; reason: DropReason; detail: string };

const STATUSES = ['processing', 'progress', 'done', 'error'];

function invalid(detail: string): ParsedStatus {
  return { ok: false, reason: 'invalid', detail };
}

function parseObject(raw: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(raw);
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

/** The REST input rule (storable text, bounded nesting): a report breaking it could not be saved. */
function unstorable(body: Record<string, unknown>): ParsedStatus | null {
  const problem = inputProblem(body, 'report');
  return problem ? invalid(problem) : null;
}

function optionalString(
  body: Record<string, unknown>,
  field: string,
  max: number,
): string | undefined | false {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  return typeof value === 'string' && value.length <= max ? value : false;
}

function progressOf(value: unknown): number | undefined | false {
  if (value === undefined || value === null) return undefined;
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 100
    ? (value as number)
    : false;
}

/**
 * The status channel: `{ jobId, status, progress?, message?, result?, error? }`, and the agent
 * status format `{ jobId, status, userId, error? }` (userId must then be the job's owner).
 */
export function parseStatusMessage(raw: string): ParsedStatus {
  const body = parseObject(raw);
  if (!body) return { ok: false, reason: 'malformed', detail: 'not a JSON object' };
  const refused = unstorable(body);
  if (refused) return refused;
  const { jobId, status } = body;
  if (typeof jobId !== 'string' || !isUuid(jobId)) return invalid('jobId must be a job id');
  if (typeof status !== 'string' || !STATUSES.includes(status)) {
    return invalid(`status must be one of ${STATUSES.join(', ')}`);
  }
  const progress = progressOf(body.progress);
  if (progress === false) return invalid('progress must be an integer 0-100');
  const message = optionalString(body, 'message', 10_000);
  if (message === false) return invalid('message must be a string');
  const error = optionalString(body, 'error', 10_000);
  if (error === false) return invalid('error must be a string');
  const userId = optionalString(body, 'userId', 200);
  if (userId === false) return invalid('userId must be a string');
  const request = (change: StatusRequest['change']): ParsedStatus => ({
    ok: true,
    request: { jobId, change, ...(userId !== undefined && { userId }) },
  });
  switch (status) {
    case 'processing':
      return progress === undefined
        ? request({ type: 'processing' })
        : request({ type: 'progress', progress, ...(message !== undefined && { message }) });
    case 'progress':
      if (progress === undefined) return invalid('progress is required with status progress');
      return request({ type: 'progress', progress, ...(message !== undefined && { message }) });
    case 'done':
      return request({
        type: 'done',
        result: (body.result ?? null) as JsonValue | null,
        ...(message !== undefined && { message }),
      });
    default:
      return request({ type: 'error', error: error ?? message ?? 'failed' });
  }
}

/** The stream-channel format: `{ message, progress }` and `{ complete, content, isError }`. */
export function parseStreamMessage(jobId: string, raw: string): ParsedStatus {
  if (!isUuid(jobId)) return invalid('the channel does not end in a job id');
  const body = parseObject(raw);
  if (!body) return { ok: false, reason: 'malformed', detail: 'not a JSON object' };
  const refused = unstorable(body);
  if (refused) return refused;
  if (body.complete === true) {
    const content = body.content;
    if (content !== undefined && typeof content !== 'string')
      return invalid('content must be a string');
    if (body.isError !== undefined && typeof body.isError !== 'boolean') {
      return invalid('isError must be a boolean');
    }
    return {
      ok: true,
      request: {
        jobId,
        change:
          body.isError === true
            ? { type: 'error', error: content ?? 'failed' }
            : { type: 'done', result: { content: content ?? '' } },
      },
    };
  }
  const progress = progressOf(body.progress);
  if (progress === false || progress === undefined)
    return invalid('progress must be an integer 0-100');
  const message = optionalString(body, 'message', 10_000);
  if (message === false) return invalid('message must be a string');
  return {
    ok: true,
    request: {
      jobId,
      change: { type: 'progress', progress, ...(message !== undefined && { message }) },
    },
  };
}
