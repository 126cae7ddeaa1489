import { getQueueToken } from '@nestjs/bullmq';
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { JobsOptions, Queue } from 'bullmq';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import type { Job } from '../generated/prisma/client';
import { RedisService } from '../redis/redis.service';
import { CANCEL_CHANNEL, ExternalQueueService } from './external-queue.service';
import { Batcher } from './batcher';
import { guardDependency, isConnectionFailure } from '../common/dependency.errors';
import { JobRegistry } from './job-registry';
import type { QueuedJobData } from './job.types';
import { fairPriority } from './fair-priority';

export interface QueueStats {
  kind: string;
  paused: boolean;
  waiting: number;
  active: number;
  prioritized: number;
  delayed: number;
  completed: number;
  failed: number;
}

export type CancelOutcome = 'removed' | 'running' | 'absent';
/** pending: waiting or running already; gone: finished or removed. */
export type PromoteOutcome = 'promoted' | 'pending' | 'gone' | 'unknown-kind';

/**
 * The queue side of every kind: one BullMQ queue per kind Conveyor runs, a Redis list per
 * external kind (ExternalQueueService); all operations looping over the registry.
 */
@Injectable()
export class JobQueueService implements OnModuleInit {
  private readonly queues = new Map<string, Queue<QueuedJobData>>();
  /** The adds of jobs submitted together go to Redis as one addBulk per kind. */
  private readonly adds: Batcher<Job, void>;

  constructor(
    private readonly registry: JobRegistry,
    private readonly moduleRef: ModuleRef,
    private readonly redis: RedisService,
    private readonly external: ExternalQueueService,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.adds = new Batcher((jobs) => this.addBulk(jobs), {
      ...config.writeBatch,
      // Submits reach here together, as their write batch answers: no need to wait for more.
      windowMs: 0,
    });
  }

  onModuleInit(): void {
    for (const { kind } of this.registry.internal()) {
      this.queues.set(kind.name, this.moduleRef.get(getQueueToken(kind.name), { strict: false }));
    }
  }

  enqueue(job: Job): Promise<void> {
    if (this.external.isExternal(job.kind)) return this.external.enqueue(job);
    this.queue(job.kind);
    return guardDependency('redis', () => this.adds.add(job));
  }

  private async addBulk(jobs: Job[]): Promise<void[]> {
    const byKind = new Map<string, Job[]>();
    for (const job of jobs) {
      const same = byKind.get(job.kind);
      if (same) same.push(job);
      else byKind.set(job.kind, [job]);
    }
    const priorities = await this.fairPriorities(jobs);
    await Promise.all(
      [...byKind].map(([kind, same]) =>
        this.queue(kind).addBulk(
          same.map((job) => ({
            name: kind,
            data: { jobId: job.id, userId: job.userId },
            opts: this.addOptions(job, priorities.get(job) ?? job.priority),
          })),
        ),
      ),
    );
    return jobs.map(() => undefined);
  }

  private addOptions(job: Job, priority: number): JobsOptions {
    const { policies } = this.registry.get(job.kind);
    return {
      jobId: job.id,
      priority,
      attempts: policies.attempts,
      backoff: { type: 'exponential', delay: policies.backoffMs },
      removeOnComplete: { age: policies.retainDoneSec },
      removeOnFail: { age: policies.retainFailedSec },
    };
  }

  /**
   * Adds each job to its user's waiting set of its kind and turns the set's size into its BullMQ
   * priority (docs/job-policies.md, "Fair dispatch"). The commands of a batch leave in one write
   * (the client pipelines a tick's commands); jobs of one user in a batch count in order.
   */
  private async fairPriorities(jobs: Job[]): Promise<Map<Job, number>> {
    const client = this.redis.client;
    const depths = await Promise.all(
      jobs.map((job) => {
        const key = this.fairKey(job.kind, job.userId);
        return Promise.all([client.sadd(key, job.id), client.scard(key)]);
      }),
    );
    return new Map(jobs.map((job, i) => [job, fairPriority(job.priority, depths[i][1])]));
  }

  /** A job left its user's waiting set: it started, or was removed before it could. */
  leftQueue(kind: string, userId: string, jobId: string): Promise<void> {
    return guardDependency('redis', async () => {
      await this.redis.client.srem(this.fairKey(kind, userId), jobId);
    });
  }

  /** One hash tag per user and kind: the set and its commands live on one cluster slot. */
  private fairKey(kind: string, userId: string): string {
    return this.redis.key('fair', `{${kind}:${userId}}`);
  }

  /** Puts a job that ended in error back in line. */
  requeue(job: Job): Promise<void> {
    if (this.external.isExternal(job.kind)) return this.external.enqueue(job);
    return guardDependency('redis', async () => {
      // A fresh entry rather than BullMQ's retry of the failed one: its priority is computed anew.
      await this.queue(job.kind).remove(job.id);
      await this.enqueue(job);
    });
  }

  /**
   * Where a job's queue entry is: 'missing' when Redis has none (an append-only file that lost
   * its last second), 'finished' when BullMQ holds it as completed or failed, else 'queued'.
   * Null for a kind this process has no queue for (an external kind).
   */
  entryState(kind: string, jobId: string): Promise<'missing' | 'finished' | 'queued' | null> {
    const queue = this.queues.get(kind);
    if (!queue) return Promise.resolve(null);
    return guardDependency('redis', async () => {
      const state = await queue.getJobState(jobId);
      if (state === 'unknown') return 'missing';
      return state === 'completed' || state === 'failed' ? 'finished' : 'queued';
    });
  }

  /** Gives a job whose entry was lost a new one, dropping any remnant of the old first. */
  reenqueue(job: Job): Promise<void> {
    return guardDependency('redis', async () => {
      const queue = this.queue(job.kind);
      // A hash left without its list entry would make add() a no-op.
      await queue.remove(job.id);
      const priorities = await this.fairPriorities([job]);
      await queue.add(
        job.kind,
        { jobId: job.id, userId: job.userId, resumed: true },
        this.addOptions(job, priorities.get(job) ?? job.priority),
      );
    });
  }

  /** Removes a job that has not started; a running one is told to stop through Redis. */
  cancel(kind: string, jobId: string, userId: string): Promise<CancelOutcome> {
    if (this.external.isExternal(kind)) return this.external.cancel(kind, jobId);
    return guardDependency('redis', async () => {
      const queue = this.queue(kind);
      if ((await queue.remove(jobId)) === 1) {
        await this.redis.client.srem(this.fairKey(kind, userId), jobId);
        return 'removed';
      }
      const state = await queue.getJobState(jobId);
      if (state === 'unknown') return 'absent';
      await this.redis.client.publish(this.cancelChannel(), jobId);
      return 'running';
    });
  }

  /** Drops a job's queue entry when it was finished elsewhere (an external worker). */
  discard(kind: string, jobId: string): Promise<void> {
    if (this.external.isExternal(kind)) return this.external.discard(kind, jobId);
    return guardDependency('redis', async () => {
      await this.queue(kind).remove(jobId);
    });
  }

  /**
   * Whether BullMQ still holds the job (in any state), read from its own key in the queue's slot;
   * null for a kind this process has no queue for.
   */
  exists(kind: string, jobId: string): Promise<boolean | null> {
    const queue = this.queues.get(kind);
    if (!queue) return Promise.resolve(null);
    return guardDependency('redis', async () => {
      return (await this.redis.client.exists(queue.toKey(jobId))) === 1;
    });
  }

  /** Moves a delayed job to the front of its wait, when this process knows its kind. */
  promoteDelayed(kind: string, jobId: string): Promise<PromoteOutcome> {
    const queue = this.queues.get(kind);
    if (!queue) return Promise.resolve('unknown-kind');
    return guardDependency('redis', async () => {
      const job = await queue.getJob(jobId);
      const state = job ? await job.getState() : 'unknown';
      if (['completed', 'failed', 'unknown'].includes(state)) return 'gone';
      if (state !== 'delayed' || !job) return 'pending';
      try {
        await job.promote();
        return 'promoted';
      } catch (error) {
        if (isConnectionFailure(error)) throw error;
        // It left the delayed set meanwhile (its own delay ran out): it is on its way.
        return 'pending';
      }
    });
  }

  cancelChannel(): string {
    return this.redis.key(CANCEL_CHANNEL);
  }

  /** An external kind keeps no finished entries: completed, failed, delayed are always 0. */
  stats(kind: string): Promise<QueueStats> {
    if (this.external.isExternal(kind)) {
      return this.external.stats(kind).then((stats) => ({
        kind,
        ...stats,
        prioritized: 0,
        delayed: 0,
        completed: 0,
        failed: 0,
      }));
    }
    return guardDependency('redis', async () => {
      const queue = this.queue(kind);
      const [paused, counts] = await Promise.all([
        queue.isPaused(),
        queue.getJobCounts('waiting', 'active', 'prioritized', 'delayed', 'completed', 'failed'),
      ]);
      return {
        kind,
        paused,
        waiting: counts.waiting ?? 0,
        active: counts.active ?? 0,
        prioritized: counts.prioritized ?? 0,
        delayed: counts.delayed ?? 0,
        completed: counts.completed ?? 0,
        failed: counts.failed ?? 0,
      };
    });
  }

  pause(kind: string): Promise<void> {
    if (this.external.isExternal(kind)) return this.external.pause(kind);
    return guardDependency('redis', () => this.queue(kind).pause());
  }

  resume(kind: string): Promise<void> {
    if (this.external.isExternal(kind)) return this.external.resume(kind);
    return guardDependency('redis', () => this.queue(kind).resume());
  }

  /** Removes finished jobs older than graceMs; the Job rows stay, only BullMQ's copies go. */
  clean(
    kind: string,
    graceMs: number,
    limit: number,
  ): Promise<{ completed: number; failed: number }> {
    if (this.external.isExternal(kind)) return Promise.resolve({ completed: 0, failed: 0 });
    return guardDependency('redis', async () => {
      const queue = this.queue(kind);
      const completed = await queue.clean(graceMs, limit, 'completed');
      const failed = await queue.clean(graceMs, limit, 'failed');
      return { completed: completed.length, failed: failed.length };
    });
  }

  private queue(kind: string): Queue<QueuedJobData> {
    const queue = this.queues.get(kind);
    if (!queue) throw new Error(`no queue for kind "${kind}"`);
    return queue;
  }
}
