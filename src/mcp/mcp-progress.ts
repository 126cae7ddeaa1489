import type { JobEventView } from '../core/job-event.view';

/** A job event as it may arrive: `output` is the text streamed since the job's previous event. */
export type McpJobEvent = JobEventView & { output?: string };

export interface ProgressUpdate {
  progress: number;
  total: 100;
  message?: string;
}

/**
 * Turns one job's events into MCP progress, whose value must increase with every notification.
 * The job's percentage is used as it is when it grew; an event that did not grow it (a status
 * line, a retry, output) gets a value halfway to the next whole percent, so it still increases
 * and never reaches a percentage the job has not. When no such value is left (at 100, or after
 * very many events within one percent) the event has no progress notification; its output still
 * goes out as a logging notification, so no output is lost.
 */
export class ProgressTracker {
  private last = -1;

  next(event: McpJobEvent): ProgressUpdate | null {
    if (event.status !== 'processing' && event.status !== 'progress') return null;
    let value: number;
    if (event.progress > this.last) {
      value = event.progress;
    } else {
      const bound = Math.min(100, Math.floor(this.last) + 1);
      value = this.last + (bound - this.last) / 2;
      if (!(value > this.last && value < bound)) return null;
    }
    this.last = value;
    return {
      progress: value,
      total: 100,
      ...(event.message !== undefined && { message: event.message }),
    };
  }
}

/** The output streamed with an event, for a notifications/message (logger `conveyor.output`). */
export function outputOf(event: McpJobEvent): string | null {
  return typeof event.output === 'string' && event.output !== '' ? event.output : null;
}
