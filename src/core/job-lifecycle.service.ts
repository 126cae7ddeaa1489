import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import type { Job } from '../generated/prisma/client';
import { JobEventBus } from './job-event-bus';
import type { JobChange } from './job-transition';
import { JobRepository, type StoredEvent } from './job.repository';

type ProgressChange = Extract<JobChange, { type: 'progress' }>;

interface PendingProgress {
  change: ProgressChange | null;
  /** The job as the window's first write left it: what coalesced reports answer. */
  job: Job | null;
  timer: NodeJS.Timeout;
}

/**
 * Every status change of every job goes through here: persist row + event, then fan out.
 *
 * Progress is coalesced per job: the first report is written at once, later ones within
 * PROGRESS_INTERVAL_MS only replace a pending report, which is written when the interval ends
 * (or just before any other change of that job). Everything else is written as it comes.
 */
@Injectable()
export class JobLifecycleService implements OnApplicationShutdown {
  private readonly logger = new Logger(JobLifecycleService.name);
  private readonly pending = new Map<string, PendingProgress>();
  private readonly writing = new Map<string, Promise<Job | null>>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly jobs: JobRepository,
    private readonly bus: JobEventBus,
  ) {}

  /** Applies the change, or returns null when the job's state does not allow it. */
  async apply(jobId: string, change: JobChange): Promise<Job | null> {
    if (change.type === 'progress' && this.config.progressIntervalMs > 0) {
      return this.progress(jobId, change);
    }
    await this.flush(jobId);
    return this.write(jobId, change);
  }

  announce(event: StoredEvent): Promise<void> {
    return this.bus.publish(event);
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([...this.pending.keys()].map((jobId) => this.flush(jobId)));
  }

  private async progress(jobId: string, change: ProgressChange): Promise<Job | null> {
    const window = this.pending.get(jobId);
    if (window) {
      window.change = change;
      return window.job;
    }
    const timer = setTimeout(() => void this.closeWindow(jobId), this.config.progressIntervalMs);
    timer.unref();
    const opened: PendingProgress = { change: null, job: null, timer };
    this.pending.set(jobId, opened);
    opened.job = await this.write(jobId, change);
    return opened.job;
  }

  private async closeWindow(jobId: string): Promise<void> {
    try {
      await this.flush(jobId);
    } catch (error) {
      this.logger.warn(`job ${jobId}: progress not written: ${(error as Error).message}`);
    }
  }

  private async flush(jobId: string): Promise<void> {
    const window = this.pending.get(jobId);
    if (!window) return;
    clearTimeout(window.timer);
    this.pending.delete(jobId);
    if (window.change) await this.write(jobId, window.change);
  }

  /**
   * One job's writes reach the database one at a time, in the order they were made: a window's
   * held-back report, still being written when the next report opens a window (or the job
   * finishes), must not land after it.
   */
  private write(jobId: string, change: JobChange): Promise<Job | null> {
    const next = (this.writing.get(jobId) ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => this.writeNow(jobId, change));
    this.writing.set(jobId, next);
    const done = () => {
      if (this.writing.get(jobId) === next) this.writing.delete(jobId);
    };
    void next.then(done, done);
    return next;
  }

  private async writeNow(jobId: string, change: JobChange): Promise<Job | null> {
    const outcome = await this.jobs.transition(jobId, change);
    if (!outcome) return null;
    await this.bus.publish(outcome.event);
    return outcome.job;
  }
}
