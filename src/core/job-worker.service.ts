import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import {
  DelayedError,
  UnrecoverableError,
  WaitingError,
  Worker,
  type Job as BullJob,
} from 'bullmq';
import type { RedisClient } from '../redis/redis-connection';
import { messageOf } from '../common/errors';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import type { Job } from '../generated/prisma/client';
import { queuePrefix } from '../redis/redis-keys';
import { RedisService } from '../redis/redis.service';
import {
  JobCancelledError,
  JobTimeoutError,
  NonRetryableJobError,
  WorkerShutdownError,
} from './job.errors';
import { JobLifecycleService } from './job-lifecycle.service';
import { JobQueueService } from './job-queue.service';
import { JobRegistry, type RegisteredKind } from './job-registry';
import { JobLogBuffer } from './job-log';
import { JobRepository } from './job.repository';
import {
  isTerminal,
  storableUsage,
  type JobContext,
  type JobProcessor,
  type JsonValue,
  type QueuedJobData,
} from './job.types';
import { WorkspaceLockService } from './workspace-lock.service';
import { JobProjects } from './job-projects';
import { ancestorIds } from './child-jobs';
import { JobChildrenService } from './job-children.service';

const LOG_SAVE_MS = 1000;
const WORKSPACE_RETRY_MS = 1000;
const WORKSPACE_RETRY_MAX_MS = 30_000;

/**
 * A job waiting for a busy workspace is promoted when the lease is released; as a fallback it
 * comes back after 1 s, 2 s, 4 s … up to 30 s (with jitter), so that jobs queued behind a long
 * run do not spend the kind's rate limit polling.
 */
function workspaceRetryDelay(job: BullJob<QueuedJobData>): number {
  const waits = Math.max(0, job.attemptsStarted - job.attemptsMade - 1);
  const base = Math.min(WORKSPACE_RETRY_MAX_MS, WORKSPACE_RETRY_MS * 2 ** Math.min(waits, 5));
  return base / 2 + Math.random() * (base / 2);
}
const LEASE_SETTLE_MS = 30_000;

function settled(work: Promise<unknown>, boundMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, boundMs);
    void work
      .finally(() => {
        clearTimeout(timer);
        resolve();
      })
      .catch(() => undefined);
  });
}

type AnyProcessor = JobProcessor<object, JsonValue | void>;

/**
 * Runs every kind's BullMQ worker through one lifecycle wrapper: start, progress, timeout,
 * cancel, retry decision, completion and graceful shutdown live here once.
 */
@Injectable()
export class JobWorkerService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(JobWorkerService.name);
  private readonly workers: Worker<QueuedJobData>[] = [];
  /** One per run waiting for a step: the slot that run lent its kind (docs/child-jobs.md). */
  private readonly lent = new Set<Worker<QueuedJobData>>();
  private closing = false;
  private readonly running = new Map<string, AbortController>();
  private subscriber?: RedisClient;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly registry: JobRegistry,
    private readonly lifecycle: JobLifecycleService,
    private readonly queues: JobQueueService,
    private readonly redis: RedisService,
    private readonly moduleRef: ModuleRef,
    private readonly jobs: JobRepository,
    private readonly projects: JobProjects,
    private readonly workspaceLocks: WorkspaceLockService,
    private readonly children: JobChildrenService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const processors = this.registry.internal().map((registered) => {
      const type = registered.kind.processor;
      const processor = type && this.moduleRef.get<AnyProcessor>(type, { strict: false });
      if (typeof processor?.process !== 'function') {
        throw new Error(`Job kind "${registered.kind.name}" has no processor`);
      }
      return { registered, processor };
    });
    this.subscriber = this.redis.subscriber('cancel');
    this.subscriber.on('message', (_channel: string, jobId: string) => {
      this.running.get(jobId)?.abort(new JobCancelledError());
    });
    await this.subscriber.subscribe(this.queues.cancelChannel());
    for (const { registered, processor } of processors) {
      this.workers.push(this.startWorker(registered, processor));
    }
    await Promise.all(this.workers.map((worker) => worker.waitUntilReady()));
  }

  /** Stops taking jobs, lets running ones finish within the grace period, then hands them back. */
  async beforeApplicationShutdown(): Promise<void> {
    this.closing = true;
    const closed = Promise.all([...this.workers, ...this.lent].map((worker) => worker.close()));
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.config.shutdownGraceMs);
    });
    if ((await Promise.race([closed, graceOver])) === 'timeout') {
      this.logger.warn(`shutdown: returning ${this.running.size} running job(s) to their queues`);
      for (const controller of this.running.values()) controller.abort(new WorkerShutdownError());
      await closed;
    }
    clearTimeout(timer);
  }

  /**
   * A run waiting for a step lends its slot: one more worker of its kind, of one slot, lives while
   * it waits, so that waiting runs never hold every slot of a kind (docs/child-jobs.md).
   */
  private lendSlot(registered: RegisteredKind, processor: AnyProcessor): () => void {
    if (this.closing) return () => undefined;
    const worker = this.startWorker(registered, processor, 1);
    this.lent.add(worker);
    return () => {
      // Its own run, if any, finishes first; it stays listed meanwhile so that a shutdown waits
      // for that run (or hands it back) before the process closes its connections.
      void worker
        .close()
        .catch(() => undefined)
        .finally(() => this.lent.delete(worker));
    };
  }

  private startWorker(
    registered: RegisteredKind,
    processor: AnyProcessor,
    concurrency = registered.policies.concurrency,
  ): Worker<QueuedJobData> {
    const { policies, kind } = registered;
    const worker = new Worker<QueuedJobData>(
      kind.name,
      (job, token) => this.run(registered, processor, job, token),
      {
        connection: this.redis.bullConnection('worker'),
        prefix: queuePrefix(this.config.prefix, kind.name),
        concurrency,
        limiter: { max: policies.rateLimit.max, duration: policies.rateLimit.durationMs },
        lockDuration: this.config.lockDurationMs,
        stalledInterval: this.config.stalledIntervalMs,
        maxStalledCount: this.config.maxStalledCount,
      },
    );
    worker.on('failed', (job, error) => void this.onFailed(job, error));
    worker.on('error', (error) => this.logger.warn(`worker ${kind.name}: ${error.message}`));
    return worker;
  }

  private async run(
    registered: RegisteredKind,
    processor: AnyProcessor,
    job: BullJob<QueuedJobData>,
    token: string | undefined,
  ): Promise<void> {
    const { jobId, userId } = job.data;
    if (userId) this.leaveFairSet(registered.kind.name, userId, jobId);
    // BullMQ's count misses stalled runs: the row's count, set when the attempt starts, is used.
    let attempt = job.attemptsMade + 1;
    let maxAttempts = job.opts.attempts ?? 1;
    const lease = registered.kind.workspace ? await this.leaseWorkspace(job, token) : null;
    if (lease === 'skip') return;
    const controller = new AbortController();
    const log = new JobLogBuffer(this.config.jobLogMaxBytes);
    const saveLog = this.logSaver(jobId, log);
    const logTimer = setInterval(() => void saveLog(), LOG_SAVE_MS);
    let work: Promise<JsonValue | void> | undefined;
    let ended: UnrecoverableError | undefined;
    let handedBack = false;
    this.running.set(jobId, controller);
    try {
      const fresh = job.attemptsMade === 0 && !job.stalledCounter && !job.data.resumed;
      const started = await this.lifecycle.start(jobId, attempt, maxAttempts, fresh);
      if (!started) return;
      if (started.status !== 'processing') {
        // Its last attempt was lost with its worker: the start recorded the failure.
        ended = new UnrecoverableError(started.error ?? 'failed');
        throw ended;
      }
      attempt = started.attempts;
      maxAttempts = started.maxAttempts;
      const ctx = this.buildContext(jobId, started, controller, lease?.workspace ?? null, log, () =>
        this.lendSlot(registered, processor),
      );
      let result: JsonValue | void;
      try {
        work = processor.process(ctx);
        result = await this.withinTimeout(work, controller, registered.policies.timeoutMs);
      } finally {
        clearInterval(logTimer);
        await saveLog();
      }
      const usage = result === undefined ? null : storableUsage(registered.kind.usage?.(result));
      await this.lifecycle.apply(jobId, { type: 'done', result: result ?? null, attempt, usage });
    } catch (error) {
      if (error === ended) throw error;
      const reason: unknown = controller.signal.aborted ? controller.signal.reason : error;
      handedBack = reason instanceof WorkerShutdownError;
      await this.fail(job, token, attempt, maxAttempts, reason);
    } finally {
      clearInterval(logTimer);
      this.running.delete(jobId);
      // An aborted processor may still be winding down: the next job gets the workspace after it.
      if (lease && work) await settled(work, LEASE_SETTLE_MS);
      if (lease) await this.endLease(jobId, lease, handedBack);
    }
  }

  /** Fairness is best effort: a set not updated costs ordering, never the job. */
  private leaveFairSet(kind: string, userId: string, jobId: string): void {
    this.queues.leftQueue(kind, userId, jobId).catch((error: unknown) => {
      this.logger.warn(`job ${jobId}: fairness set not updated: ${messageOf(error)}`);
    });
  }

  /**
   * A parent handed back while its steps go on leaves them its lease (docs/child-jobs.md): they
   * keep it alive and its next run takes it over, so no other job of the project starts meanwhile.
   */
  private async endLease(
    jobId: string,
    lease: { release: () => Promise<void>; leave: () => void },
    handedBack: boolean,
  ): Promise<void> {
    const steps = handedBack ? await this.jobs.children(jobId, true).catch(() => []) : [];
    if (steps.length > 0) lease.leave();
    else await lease.release();
  }

  /**
   * The log is secondary to the job's outcome: a failed save is reported, never fatal.
   * Saves run one after the other: a periodic save still in flight must not land after the last.
   */
  private logSaver(jobId: string, log: JobLogBuffer): () => Promise<void> {
    let saving = Promise.resolve();
    return () => {
      saving = saving.then(async () => {
        const changes = log.takeChanges();
        if (!changes) return;
        try {
          await this.jobs.saveLog(jobId, changes.content, changes.truncated);
        } catch (error) {
          this.logger.warn(`job ${jobId}: log not saved: ${messageOf(error)}`);
        }
      });
      return saving;
    };
  }

  /** What the processor sees of its run: the job's row as the attempt started, and its channels. */
  private buildContext(
    jobId: string,
    started: Job,
    controller: AbortController,
    workspace: string | null,
    log: JobLogBuffer,
    lendSlot: () => () => void,
  ): JobContext<object> {
    const attempt = started.attempts;
    const stream = this.lifecycle.outputStream(jobId);
    return {
      jobId,
      kind: started.kind,
      userId: started.userId,
      projectId: started.projectId,
      params: started.params as object,
      attempt,
      maxAttempts: started.maxAttempts,
      signal: controller.signal,
      workspace,
      progress: async (percent, message) => {
        if (!Number.isInteger(percent) || percent < 0 || percent > 100) {
          throw new RangeError(`progress must be an integer 0-100 (got ${percent})`);
        }
        const applied = await this.lifecycle.apply(jobId, {
          type: 'progress',
          attempt,
          progress: percent,
          ...(message !== undefined && { message }),
        });
        if (!applied) controller.abort(new JobCancelledError());
      },
      log: (text) => log.append(text),
      output: (text) => {
        // PostgreSQL text cannot hold NUL: one printed must not cost the log or the events.
        const clean = text.includes('\0') ? text.replace(/\0/g, '\uFFFD') : text;
        log.append(clean);
        stream(clean);
      },
      ...this.children.contextFor({ job: started, signal: controller.signal, lendSlot }),
    };
  }

  /**
   * Workspace kinds run one at a time per project. A job whose workspace is busy goes back to
   * the delayed set without using an attempt; one whose project is gone fails.
   */
  private async leaseWorkspace(
    job: BullJob<QueuedJobData>,
    token: string | undefined,
  ): Promise<{ workspace: string; release: () => Promise<void>; leave: () => void } | 'skip'> {
    const row = await this.jobs.findById(job.data.jobId);
    if (!row || isTerminal(row.status)) return 'skip';
    const project = await this.projects.findById(row.projectId);
    if (!project || project.status !== 'ready') {
      const error = `project ${row.projectId} is ${project ? project.status : 'gone'}`;
      await this.lifecycle.apply(row.id, { type: 'error', error });
      throw new UnrecoverableError(error);
    }
    // A step runs inside the lease of the ancestor that holds it.
    const ancestors = row.parentId ? await ancestorIds(this.jobs, row) : [];
    const lease = await this.workspaceLocks.acquire(project.id, row.id, job.queueName, ancestors);
    if (!('release' in lease)) {
      // Woken early when the lease is released; the first waiter also when it would lapse.
      const delay = Math.min(workspaceRetryDelay(job), lease.lapsesInMs ?? Infinity);
      await job.moveToDelayed(Date.now() + delay, token);
      await this.workspaceLocks.waiting(project.id);
      throw new DelayedError();
    }
    return {
      workspace: project.workspacePath,
      release: () => lease.release(),
      leave: () => lease.leave(),
    };
  }

  private async withinTimeout<R>(work: Promise<R>, controller: AbortController, ms: number) {
    work.catch(() => undefined);
    const timer = setTimeout(() => controller.abort(new JobTimeoutError(ms)), ms);
    const aborted = new Promise<never>((_, reject) => {
      const onAbort = () => reject(controller.signal.reason as Error);
      if (controller.signal.aborted) onAbort();
      controller.signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([work, aborted]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async fail(
    job: BullJob<QueuedJobData>,
    token: string | undefined,
    attempt: number,
    maxAttempts: number,
    reason: unknown,
  ): Promise<void> {
    const { jobId } = job.data;
    if (reason instanceof WorkerShutdownError) {
      // The hand-back matters more than its event: a failed write must not keep the job here.
      await this.lifecycle
        .apply(jobId, { type: 'returned', attempt })
        .catch((error: unknown) =>
          this.logger.warn(`job ${jobId}: hand-back not recorded: ${messageOf(error)}`),
        );
      await job.moveToWait(token);
      throw new WaitingError();
    }
    if (reason instanceof JobCancelledError) {
      await this.lifecycle.apply(jobId, { type: 'cancelled', attempt });
      return;
    }
    const error = messageOf(reason);
    if (!(reason instanceof NonRetryableJobError) && attempt < maxAttempts) {
      await this.lifecycle.apply(jobId, { type: 'retrying', attempt, error });
      throw reason instanceof Error ? reason : new Error(error);
    }
    await this.lifecycle.apply(jobId, { type: 'error', error, attempt });
    throw new UnrecoverableError(error);
  }

  /** BullMQ can fail a job outside the wrapper (a job that stalled too often); record it. */
  private async onFailed(job: BullJob<QueuedJobData> | undefined, error: Error): Promise<void> {
    if (!job || error instanceof UnrecoverableError) return;
    if (job.attemptsMade < (job.opts.attempts ?? 1) && !/stalled/i.test(error.message)) return;
    try {
      await this.lifecycle.apply(job.data.jobId, { type: 'error', error: error.message });
    } catch (failure) {
      this.logger.error(`job ${job.data.jobId}: failure not recorded: ${messageOf(failure)}`);
    }
  }
}
