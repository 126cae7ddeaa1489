import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import type { Job } from '../generated/prisma/client';
import { JobEventBus } from './job-event-bus';
import { OutputBudget, PendingOutput } from './job-output';
import { JobMetricsService } from './job-metrics.service';
import type { JobChange } from './job-transition';
import { JobRepository, type StoredEvent } from './job.repository';
import { isTerminal } from './job.types';

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
    parentId: null,
    childKey: null,
  };
}

type ProgressChange = Extract<JobChange, { type: 'progress' }>;

/** A report that only carries output: progress and message stay as they are. */
const OUTPUT_ONLY: ProgressChange = { type: 'progress' };

function onlyOutput(change: ProgressChange): boolean {
  return change.progress === undefined && change.message === undefined;
}

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
 *
 * Streamed output (ctx.output) is held per job and taken by the job's next write: a progress
 * event carries it (split into 64 KiB pieces, one event each); before any other change, what is
 * held is written as progress events first. So output rides on the progress writes, and a burst
 * of output is one report of the window like any other.
 */
@Injectable()
export class JobLifecycleService implements OnApplicationShutdown {
  private readonly logger = new Logger(JobLifecycleService.name);
  private readonly pending = new Map<string, PendingProgress>();
  private readonly writing = new Map<string, Promise<Job | null>>();
  /** The row as this process last wrote it: the next change is planned from it without a read. */
  private readonly known = new Map<string, Job>();
  /** Output streamed and not yet taken by a write. */
  private readonly outputs = new Map<string, PendingOutput>();
  /** Jobs with an output write queued that has not yet taken the output (no coalescing). */
  private readonly outputQueued = new Set<string>();

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
   * Starts an attempt of a job this process has no copy of, planning a first run as if it were
   * still queued as submitted (the common case) so that no read is needed; if it is not, the
   * write is refused and the job is read and the change planned again.
   */
  start(jobId: string, attempt: number, maxAttempts: number, fresh = true): Promise<Job | null> {
    // Only a first run can be assumed queued as submitted; after a retry or a stall it is read.
    if (fresh && !this.known.has(jobId)) this.known.set(jobId, assumedQueued(jobId, maxAttempts));
    return this.apply(jobId, { type: 'processing', attempt });
  }

  /**
   * The sink of one attempt's ctx.output. The first JOB_LOG_MAX_BYTES of the attempt's output
   * are streamed exactly; past that nothing more (the stored log keeps the tail instead).
   */
  outputStream(jobId: string): (text: string) => void {
    const budget = new OutputBudget(this.config.jobLogMaxBytes);
    let capped = false;
    return (text) => {
      const admitted = budget.admit(text);
      if (admitted !== '') this.output(jobId, admitted);
      if (!capped && budget.exhausted) {
        capped = true;
        this.logger.log(
          `job ${jobId}: output reached JOB_LOG_MAX_BYTES (${this.config.jobLogMaxBytes}); ` +
            'the rest goes to the log only',
        );
      }
    };
  }

  async announce(event: StoredEvent): Promise<void> {
    await Promise.all([this.bus.publish(event), this.metrics.record(event)]);
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([...this.pending.keys()].map((jobId) => this.flush(jobId)));
    // Output writes queued without coalescing, too.
    await Promise.all([...this.writing.values()].map((write) => write.catch(() => undefined)));
  }

  private output(jobId: string, text: string): void {
    let held = this.outputs.get(jobId);
    if (!held) this.outputs.set(jobId, (held = new PendingOutput()));
    held.append(text);
    const failed = (error: unknown) =>
      this.logger.warn(`job ${jobId}: output not written yet: ${(error as Error).message}`);
    if (this.config.progressIntervalMs > 0) {
      const window = this.pending.get(jobId);
      if (window) window.change ??= OUTPUT_ONLY;
      else this.progress(jobId, OUTPUT_ONLY).catch(failed);
    } else if (!this.outputQueued.has(jobId)) {
      // Without coalescing, output that comes while a write is queued rides on that write.
      this.outputQueued.add(jobId);
      this.write(jobId, OUTPUT_ONLY).catch(failed);
    }
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
    this.outputQueued.delete(jobId);
    const held = this.outputs.get(jobId);
    this.outputs.delete(jobId);
    const pieces = held?.take() ?? [];
    let written = 0;
    try {
      if (change.type === 'progress') {
        if (pieces.length === 0 && onlyOutput(change) && this.known.has(jobId)) {
          // Its output went with an earlier write: nothing left to say.
          return this.known.get(jobId)!;
        }
        let job = await this.writeOne(jobId, { ...change, output: pieces[0] });
        for (written = 1; job && written < pieces.length; written += 1) {
          job = await this.writeOne(jobId, { type: 'progress', output: pieces[written] });
        }
        written = pieces.length;
        return job;
      }
      // Output streamed before another change is written first, so none is lost to it.
      for (; written < pieces.length; written += 1) {
        if (!(await this.writeOne(jobId, { type: 'progress', output: pieces[written] }))) break;
      }
      written = pieces.length;
      return await this.writeOne(jobId, change);
    } catch (error) {
      this.restoreOutput(jobId, pieces.slice(written));
      throw error;
    }
  }

  private restoreOutput(jobId: string, pieces: string[]): void {
    if (pieces.length === 0) return;
    let held = this.outputs.get(jobId);
    if (!held) this.outputs.set(jobId, (held = new PendingOutput()));
    held.restore(pieces);
  }

  private async writeOne(jobId: string, change: JobChange): Promise<Job | null> {
    const outcome = await this.jobs.transition(jobId, change, this.known.get(jobId));
    this.known.delete(jobId);
    if (!outcome) return null;
    if (!isTerminal(outcome.job.status)) {
      if (this.known.size >= KNOWN_JOBS_MAX) this.known.delete(this.known.keys().next().value!);
      this.known.set(jobId, outcome.job);
    } else {
      // Output of a processor still winding down after its job ended has no event to go to.
      this.outputs.delete(jobId);
    }
    await Promise.all([
      this.bus.publish(outcome.event),
      this.metrics.record(
        outcome.event,
        outcome.job,
        change.type === 'done' ? (change.usage ?? null) : null,
      ),
    ]);
    return outcome.job;
  }
}
