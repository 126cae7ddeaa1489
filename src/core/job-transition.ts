import type { Job, JobEvent } from '../generated/prisma/client';
import type { JobEventStatus, JobStatus, JsonValue } from './job.types';

/** Every way a job's state can change; each becomes one JobEvent. */
export type JobChange =
  | { type: 'processing'; attempt: number; message?: string }
  /** Without progress or message they stay as they are; output is what was streamed since. */
  | { type: 'progress'; progress?: number; message?: string; output?: string }
  | { type: 'retrying'; attempt: number; error: string }
  | { type: 'done'; result: JsonValue | null; message?: string }
  | { type: 'error'; error: string }
  | { type: 'cancelled'; message?: string }
  | { type: 'requeued' };

const ALLOWED_FROM: Record<JobChange['type'], readonly JobStatus[]> = {
  processing: ['queued', 'processing'],
  progress: ['processing'],
  retrying: ['processing'],
  done: ['processing'],
  error: ['queued', 'processing'],
  cancelled: ['queued', 'processing'],
  requeued: ['error'],
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

function canApply(status: string, change: JobChange): boolean {
  return (ALLOWED_FROM[change.type] as readonly string[]).includes(status);
}

/** The state machine of a job, kept pure so that it is tested without a database. */
export function planTransition(job: Job, change: JobChange, now: Date): PlannedTransition | null {
  if (!canApply(job.status, change)) return null;
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
    case 'processing':
      return event('processing', {
        ...base,
        status: 'processing',
        attempts: change.attempt,
        startedAt: job.startedAt ?? now,
        message: change.message ?? `attempt ${change.attempt} of ${job.maxAttempts} started`,
      });
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

export interface JobEventView {
  eventId: string;
  jobId: string;
  kind: string;
  status: JobEventStatus;
  progress: number;
  message?: string;
  result?: JsonValue;
  error?: string;
  /** Progress events: the output streamed since the job's previous event. */
  output?: string;
  at: string;
}

export function toEventView(event: JobEvent): JobEventView {
  return {
    eventId: event.id.toString(),
    jobId: event.jobId,
    kind: event.kind,
    status: event.status as JobEventStatus,
    progress: event.progress,
    ...(event.message !== null && { message: event.message }),
    ...(event.result !== null && { result: event.result as JsonValue }),
    ...(event.error !== null && { error: event.error }),
    ...(event.output !== null && { output: event.output }),
    at: event.createdAt.toISOString(),
  };
}
