import type { JobEvent } from '../generated/prisma/client';
import type { JobEventStatus, JsonValue } from './job.types';

/** A job event as clients see it, over REST, sockets and MCP alike. */
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
  /** The job's parent, when it is a step of another job (docs/child-jobs.md). */
  parentId?: string;
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
    ...(event.parentId && { parentId: event.parentId }),
    at: event.createdAt.toISOString(),
  };
}
