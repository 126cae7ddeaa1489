import {
  ResyncRequiredError,
  TERMINAL_STATUSES,
  UnauthorizedError,
  type ConveyorClient,
  type JobEvent,
  type JobStatus,
} from '../../client/src/index.js';
import type { QueuesPanel } from './admin.js';
import type { JobDetail } from './detail.js';
import { byId, messageOf } from './dom.js';
import type { JobsTable } from './table.js';

const STATUS_OF_EVENT: Record<JobEvent['status'], JobStatus> = {
  created: 'queued',
  processing: 'processing',
  progress: 'processing',
  done: 'done',
  error: 'error',
  cancelled: 'cancelled',
};

/** The caller's live events, applied to the jobs table, the selected job and the queue counts. */
export class Feed {
  constructor(
    private readonly client: ConveyorClient,
    private readonly table: JobsTable,
    private readonly detail: JobDetail,
    private readonly queues: QueuesPanel | null,
    private readonly signOut: (reason: string) => void,
  ) {}

  /** The caller's events, live; resumed from the last one seen if the stream breaks. */
  async live(signal: AbortSignal): Promise<void> {
    let last: string | undefined;
    this.client.onTransport = (transport) => {
      byId('transport').textContent = transport === 'socket' ? 'live' : 'live (polling)';
    };
    let resynced = false;
    while (!signal.aborted) {
      try {
        const events = this.client.events({ lastEventId: last, signal });
        // What happened during the gap the server could no longer replay: read it over REST.
        if (resynced) void this.reload();
        resynced = false;
        for await (const event of events) {
          last = event.eventId;
          await this.apply(event);
        }
      } catch (error) {
        if (error instanceof UnauthorizedError) {
          this.signOut(messageOf(error));
          return;
        }
        if (error instanceof ResyncRequiredError) {
          last = undefined;
          resynced = true;
          continue;
        }
        byId('transport').textContent = `reconnecting: ${messageOf(error)}`;
        await new Promise((resolve) => setTimeout(resolve, 2000));
      }
    }
  }

  private async apply(event: JobEvent): Promise<void> {
    let job = this.table.jobs.get(event.jobId);
    const isNew = !job;
    if (!job || TERMINAL_STATUSES.includes(STATUS_OF_EVENT[event.status])) {
      job = await this.client.get(event.jobId);
    } else {
      job = {
        ...job,
        status: STATUS_OF_EVENT[event.status],
        progress: event.progress,
        message: event.message ?? job.message,
      };
    }
    this.table.put(job);
    // A new step: its parent's view names it (its key) and nests it, read again.
    if (isNew && job.parentId) await this.table.adopt(job, true);
    if (this.table.selected === job.id) await this.detail.update(event, job);
    else if (this.table.selected === job.parentId) this.detail.render();
    if (this.queues) void this.queues.refresh();
  }

  /** After a resync: the jobs and the selected job's output as they are now. */
  private async reload(): Promise<void> {
    await this.table.load();
    if (this.table.selected) await this.detail.select(this.table.selected);
  }
}
