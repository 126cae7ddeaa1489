import type { Job } from '../generated/prisma/client';
import type { JobEventStatus, JobStatus, JsonValue, TokenCount } from './job.types';

/** Every way a job's state can change; each becomes one JobEvent. */
export type JobChange =
  /** attempt is a floor: a start always counts one more than the attempts already started. */
  | { type: 'processing'; attempt: number; message?: string }
  /** Without progress or message they stay as they are; output is what was streamed since. */
  | { type: 'progress'; progress?: number; message?: string; output?: string; attempt?: number }
  | { type: 'retrying'; attempt: number; error: string }
  | {
      type: 'done';
      result: JsonValue | null;
      message?: string;
      attempt?: number;
      /** Added to the user's token usage in the same write (docs/usage.md). */
      usage?: TokenCount | null;
    }
  | { type: 'error'; error: string; attempt?: number }
  | { type: 'cancelled'; message?: string; attempt?: number }
  | { type: 'requeued' }
  /** A running attempt handed back by a worker shutting down: it does not count. */
  | { type: 'returned'; attempt: number }
  /** Its queue entry was found gone (Redis lost it): back in line, the lost attempt counted. */
  | { type: 'lost' };

const ALLOWED_FROM: Record<JobChange['type'], readonly JobStatus[]> = {
  processing: ['queued', 'processing'],
  progress: ['processing'],
  retrying: ['processing'],
  done: ['processing'],
  error: ['queued', 'processing'],
  cancelled: ['queued', 'processing'],
  // From cancelled only for a step its parent runs again (docs/child-jobs.md); REST retries errors.
  requeued: ['error', 'cancelled'],
  returned: ['processing'],
  lost: ['queued', 'processing'],
};

export interface JobUpdate {
  status: JobStatus;
  progress: number;
  message: string | null;
  result?: JsonValue | null;
  error: string | null;
  attempts: number;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export interface EventDraft {
  status: JobEventStatus;
  progress: number;
  message: string | null;
  result: JsonValue | null;
  error: string | null;
  output: string | null;
}

export interface PlannedTransition {
  update: JobUpdate;
  event: EventDraft;
}

/**
 * A failed attempt that will be retried leaves the job processing with that attempt's error set
 * until its next start (which clears it). So that start is told apart from a start after an
 * attempt lost with its worker by state no processor writes, not by the text of a message.
 */
function awaitsRetry(job: Job): boolean {
  return job.error !== null;
}

function canApply(job: Job, change: JobChange): boolean {
  if (!(ALLOWED_FROM[change.type] as readonly string[]).includes(job.status)) return false;
  // A write of an attempt that is no longer the job's current one (its worker was paused past
  // its lock and the job recovered elsewhere) is refused: two attempts never both report.
  const fenced = change.type !== 'processing' && 'attempt' in change;
  return !fenced || change.attempt === undefined || change.attempt === job.attempts;
}

/** The state machine of a job, kept pure so that it is tested without a database. */
export function planTransition(job: Job, change: JobChange, now: Date): PlannedTransition | null {
  if (!canApply(job, change)) return null;
  const base: JobUpdate = {
    status: job.status as JobStatus,
    progress: job.progress,
    message: job.message,
    error: job.error,
    attempts: job.attempts,
    startedAt: job.startedAt,
    finishedAt: job.finishedAt,
  };
  const event = (
    status: JobEventStatus,
    update: JobUpdate,
    result: JsonValue | null = null,
    output: string | null = null,
  ) => ({
    update,
    event: {
      status,
      progress: update.progress,
      message: update.message,
      result,
      error: update.error,
      output,
    },
  });
  switch (change.type) {
    case 'processing': {
      // Started while still processing, and not after a failure: the last attempt was lost.
      const lost = job.status === 'processing' && !awaitsRetry(job);
      if (lost && job.attempts >= job.maxAttempts) {
        return event('error', {
          ...base,
          status: 'error',
          message: 'failed',
          error: `attempt ${job.attempts} of ${job.maxAttempts} was lost with its worker`,
          finishedAt: now,
        });
      }
      const attempts = Math.max(change.attempt, job.attempts + 1);
      const started = `attempt ${attempts} of ${job.maxAttempts} started`;
      const recovered = `${started}: recovered, attempt ${job.attempts} was lost with its worker`;
      return event('processing', {
        ...base,
        status: 'processing',
        attempts,
        error: null,
        startedAt: job.startedAt ?? now,
        message: change.message ?? (lost ? recovered : started),
      });
    }
    case 'progress':
      return event(
        'progress',
        {
          ...base,
          progress: change.progress ?? job.progress,
          message: change.message ?? job.message,
        },
        null,
        change.output || null,
      );
    case 'retrying':
      return event('progress', {
        ...base,
        message: `attempt ${change.attempt} of ${job.maxAttempts} failed: ${change.error}; retrying`,
        error: change.error,
      });
    case 'done':
      return event(
        'done',
        {
          ...base,
          status: 'done',
          progress: 100,
          message: change.message ?? 'done',
          result: change.result,
          finishedAt: now,
        },
        change.result,
      );
    case 'error':
      return event('error', {
        ...base,
        status: 'error',
        message: 'failed',
        error: change.error,
        finishedAt: now,
      });
    case 'cancelled':
      return event('cancelled', {
        ...base,
        status: 'cancelled',
        message: change.message ?? 'cancelled',
        finishedAt: now,
      });
    case 'returned':
      return event('created', {
        ...base,
        status: 'queued',
        attempts: job.attempts - 1,
        message: 'returned to the queue: its worker is shutting down',
      });
    case 'lost': {
      const during = job.status === 'processing' ? ` during attempt ${job.attempts}` : '';
      if (job.status === 'processing' && job.attempts >= job.maxAttempts) {
        return event('error', {
          ...base,
          status: 'error',
          message: 'failed',
          error: `queue entry lost${during} of ${job.maxAttempts}`,
          finishedAt: now,
        });
      }
      return event('created', {
        ...base,
        status: 'queued',
        message: `queue entry lost${during}; re-queued`,
      });
    }
    case 'requeued':
      return event('created', {
        ...base,
        status: 'queued',
        progress: 0,
        message: 'retry requested',
        result: null,
        error: null,
        attempts: 0,
        startedAt: null,
        finishedAt: null,
      });
  }
}
