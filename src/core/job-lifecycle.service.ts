import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import type { Job } from '../generated/prisma/client';
import { JobEventBus } from './job-event-bus';
import { JobMetricsService } from './job-metrics.service';
import type { JobChange } from './job-transition';
import { JobRepository, type StoredEvent } from './job.repository';
import { TERMINAL_STATUSES } from './job.types';

const KNOWN_JOBS_MAX = 10_000;

/** The fields planTransition reads, as a job has them from submit (or a retry) until it starts. */
function assumedQueued(id: string, maxAttempts: number): Job {
  const unknown = new Date(0);
  return {
    id,
    kind: '',
    userId: '',
    projectId: '',
    requestId: null,
    status: 'queued',
    priority: 0,
    progress: 0,
    message: null,
    params: {},
    result: null,
    error: null,
    attempts: 0,
    maxAttempts,
    idempotencyKey: null,
    idempotencyHash: null,
    createdAt: unknown,
    startedAt: null,
    finishedAt: null,
    updatedAt: unknown,
    // Not known: the write compares the status alone.
    version: -1,
  };
}

type ProgressChange = Extract<JobChange, { type: 'progress' }>;

interface PendingProgress {
  change: ProgressChange | null;
  /** The window's first write: what coalesced reports answer, even while it is in flight. */
  job: Promise<Job | null>;
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
  /** The row as this process last wrote it: the next change is planned from it without a read. */
  private readonly known = new Map<string, Job>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly jobs: JobRepository,
    private readonly bus: JobEventBus,
    private readonly metrics: JobMetricsService,
  ) {}

  /** Applies the change, or returns null when the job's state does not allow it. */
  async apply(jobId: string, change: JobChange): Promise<Job | null> {
    if (change.type === 'progress' && this.config.progressIntervalMs > 0) {
      return this.progress(jobId, change);
    }
    await this.flush(jobId);
    return this.write(jobId, change);
  }

  /**
   * Starts an attempt of a job this process has no copy of, planning as if it were still queued
   * as submitted (the common case) so that no read is needed; if it is not, the write is refused
   * and the job is read and the change planned again.
   */
  start(jobId: string, attempt: number, maxAttempts: number): Promise<Job | null> {
    if (!this.known.has(jobId)) this.known.set(jobId, assumedQueued(jobId, maxAttempts));
    return this.apply(jobId, { type: 'processing', attempt });
  }

  async announce(event: StoredEvent): Promise<void> {
    await Promise.all([this.bus.publish(event), this.metrics.record(event)]);
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
    const opened: PendingProgress = { change: null, job: this.write(jobId, change), timer };
    this.pending.set(jobId, opened);
    try {
      return await opened.job;
    } catch (error) {
      // A failed write must not answer later reports of this window as "job gone".
      clearTimeout(timer);
      if (this.pending.get(jobId) === opened) this.pending.delete(jobId);
      throw error;
    }
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
    const outcome = await this.jobs.transition(jobId, change, this.known.get(jobId));
    this.known.delete(jobId);
    if (!outcome) return null;
    if (!(TERMINAL_STATUSES as readonly string[]).includes(outcome.job.status)) {
      if (this.known.size >= KNOWN_JOBS_MAX) this.known.delete(this.known.keys().next().value!);
      this.known.set(jobId, outcome.job);
    }
    await Promise.all([
      this.bus.publish(outcome.event),
      this.metrics.record(outcome.event, outcome.job),
    ]);
    return outcome.job;
  }
}
