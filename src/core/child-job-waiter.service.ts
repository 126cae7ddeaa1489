import { Injectable, Logger } from '@nestjs/common';
import type { RedisClient } from '../redis/redis-connection';
import type { Job } from '../generated/prisma/client';
import { messageOf } from '../common/errors';
import { RedisService } from '../redis/redis.service';
import { JobEventBus, type PublishedJobEvent } from './job-event-bus';
import { JobRepository } from './job.repository';
import { isTerminal } from './job.types';

/** A missed message (pub/sub may drop one) delays a parent by at most this long. */
export const CHILD_RECHECK_MS = 3000;

/**
 * Waits for jobs to end without polling: every worker process listens once on the events channels
 * the core publishes on (every bucket), and a waiting parent reads its step's row when the step's
 * terminal event goes by, and every CHILD_RECHECK_MS besides.
 */
@Injectable()
export class ChildJobWaiterService {
  private readonly logger = new Logger(ChildJobWaiterService.name);
  private readonly waiters = new Map<string, Set<() => void>>();
  private subscribed?: Promise<RedisClient>;

  constructor(
    private readonly redis: RedisService,
    private readonly bus: JobEventBus,
    private readonly jobs: JobRepository,
  ) {}

  /** Resolves with the job's row once it is done, error or cancelled; rejects on abort. */
  async ended(jobId: string, signal: AbortSignal): Promise<Job> {
    await this.subscribe();
    signal.throwIfAborted();
    return new Promise<Job>((resolve, reject) => {
      let reading = false;
      // A wake during a read may announce an end that read missed: it reads once more after it.
      let again = false;
      let settled = false;
      const check = async (): Promise<void> => {
        if (reading) {
          again = true;
          return;
        }
        reading = true;
        again = false;
        try {
          const job = await this.jobs.findById(jobId);
          if (!job) finish(() => reject(new Error(`job ${jobId} is gone`)));
          else if (isTerminal(job.status)) finish(() => resolve(job));
        } catch (error) {
          // The database is away: the next message or recheck reads again.
          this.logger.warn(`job ${jobId}: not read: ${messageOf(error)}`);
        } finally {
          reading = false;
        }
        if (again && !settled) await check();
      };
      const wake = () => void check();
      const timer = setInterval(wake, CHILD_RECHECK_MS);
      const onAbort = () => finish(() => reject(signal.reason as Error));
      const finish = (settle: () => void) => {
        settled = true;
        clearInterval(timer);
        signal.removeEventListener('abort', onAbort);
        const set = this.waiters.get(jobId);
        set?.delete(wake);
        if (set?.size === 0) this.waiters.delete(jobId);
        settle();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      let set = this.waiters.get(jobId);
      if (!set) this.waiters.set(jobId, (set = new Set()));
      set.add(wake);
      // Subscribed before this read: an end after it is announced, one before it is read here.
      wake();
    });
  }

  private subscribe(): Promise<RedisClient> {
    if (!this.subscribed) {
      const subscribing = (async () => {
        const subscriber = this.redis.shardedSubscriber('child-jobs');
        try {
          await this.bus.subscribe(subscriber, (events) => this.onEvents(events));
        } catch (error) {
          subscriber.disconnect();
          throw error;
        }
        return subscriber;
      })();
      this.subscribed = subscribing;
      // Redis away: the next wait subscribes again.
      subscribing.catch(() => {
        if (this.subscribed === subscribing) this.subscribed = undefined;
      });
    }
    return this.subscribed;
  }

  private onEvents(events: PublishedJobEvent[]): void {
    if (this.waiters.size === 0) return;
    for (const event of events) {
      if (!isTerminal(event.status)) continue;
      for (const wake of this.waiters.get(event.jobId) ?? []) wake();
    }
  }
}
