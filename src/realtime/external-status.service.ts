import { createHash } from 'node:crypto';
import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import type Redis from 'ioredis';
import { JobLifecycleService } from '../core/job-lifecycle.service';
import { JobQueueService } from '../core/job-queue.service';
import { JobRepository } from '../core/job.repository';
import { TERMINAL_STATUSES } from '../core/job.types';
import { RedisService } from '../redis/redis.service';
import {
  parseStatusMessage,
  parseStreamMessage,
  type DropReason,
  type ParsedStatus,
} from './status-message';

export interface ExternalStatusCounters {
  accepted: number;
  dropped: Record<DropReason, number>;
}

/** Every api instance hears each publish; the first to claim it applies it. */
const CLAIM_MS = 10_000;

/**
 * Status reports from workers outside Conveyor (any language, redis-cli included), applied
 * through the same lifecycle as Conveyor's own workers. Bad reports are logged, counted and
 * dropped; nothing here can take the process down.
 */
@Injectable()
export class ExternalStatusService implements OnApplicationBootstrap {
  private readonly logger = new Logger(ExternalStatusService.name);
  private subscriber?: Redis;
  private readonly counters: ExternalStatusCounters = {
    accepted: 0,
    dropped: { malformed: 0, invalid: 0, unknownJob: 0, notAllowed: 0 },
  };

  constructor(
    private readonly redis: RedisService,
    private readonly jobs: JobRepository,
    private readonly lifecycle: JobLifecycleService,
    private readonly queues: JobQueueService,
  ) {}

  statusChannel(): string {
    return this.redis.key('status');
  }

  streamChannel(jobId: string): string {
    return this.redis.key('stream', jobId);
  }

  stats(): ExternalStatusCounters {
    return { accepted: this.counters.accepted, dropped: { ...this.counters.dropped } };
  }

  async onApplicationBootstrap(): Promise<void> {
    this.subscriber = this.redis.subscriber('status');
    const streamPrefix = this.streamChannel('');
    this.subscriber.on('message', (channel: string, raw: string) => {
      void this.handle(channel, raw, () => parseStatusMessage(raw));
    });
    this.subscriber.on('pmessage', (_pattern: string, channel: string, raw: string) => {
      const jobId = channel.slice(streamPrefix.length);
      void this.handle(channel, raw, () => parseStreamMessage(jobId, raw));
    });
    await this.subscriber.subscribe(this.statusChannel());
    await this.subscriber.psubscribe(`${streamPrefix}*`);
  }

  private async handle(channel: string, raw: string, parse: () => ParsedStatus): Promise<void> {
    try {
      const digest = createHash('sha1').update(channel).update('\n').update(raw).digest('hex');
      const claimed = await this.redis.client.set(
        this.redis.key('status-claim', digest),
        '1',
        'PX',
        CLAIM_MS,
        'NX',
      );
      if (claimed !== 'OK') return;
      const parsed = parse();
      if (!parsed.ok) return this.drop(parsed.reason, parsed.detail, raw);
      const { jobId, userId, change } = parsed.request;
      const job = await this.jobs.findById(jobId);
      if (!job) return this.drop('unknownJob', `no job ${jobId}`, raw);
      if (userId !== undefined && userId !== job.userId) {
        return this.drop('invalid', `job ${jobId} does not belong to ${userId}`, raw);
      }
      if ((TERMINAL_STATUSES as readonly string[]).includes(job.status)) {
        return this.drop('notAllowed', `job ${jobId} is already ${job.status}`, raw);
      }
      if (job.status === 'queued' || change.type === 'processing') {
        await this.lifecycle.apply(jobId, { type: 'processing', attempt: job.attempts + 1 });
      }
      if (change.type !== 'processing' && !(await this.lifecycle.apply(jobId, change))) {
        return this.drop('notAllowed', `${change.type} is not allowed for job ${jobId}`, raw);
      }
      this.counters.accepted += 1;
      if (change.type === 'done' || change.type === 'error')
        await this.queues.discard(job.kind, jobId);
    } catch (error) {
      this.logger.error(`status report on ${channel} not applied: ${(error as Error).message}`);
    }
  }

  private drop(reason: DropReason, detail: string, raw: string): void {
    this.counters.dropped[reason] += 1;
    this.logger.warn(`status report dropped (${reason}): ${detail}: ${raw.slice(0, 200)}`);
  }
}
