import { createHash, randomUUID } from 'node:crypto';
import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import type { RedisClient } from '../redis/redis-connection';
import { JobLifecycleService } from '../core/job-lifecycle.service';
import { JobQueueService } from '../core/job-queue.service';
import { JobRepository } from '../core/job.repository';
import { JobRegistry } from '../core/job-registry';
import { isTerminal } from '../core/job.types';
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

/**
 * Every api instance hears each publish and exactly one applies it. A job's reports all go to the
 * instance that claimed the job (claim renewed by each report, held until CLAIM_MS of silence),
 * which applies them one at a time in publish order; reports naming no job are claimed one by one.
 */
const CLAIM_MS = 10_000;
const CLAIM_JOB = `local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;

/**
 * Status reports from workers outside Conveyor (any language, redis-cli included), applied
 * through the same lifecycle as Conveyor's own workers. Bad reports are logged, counted and
 * dropped; nothing here can take the process down.
 */
@Injectable()
export class ExternalStatusService implements OnApplicationBootstrap {
  private readonly logger = new Logger(ExternalStatusService.name);
  private subscriber?: RedisClient;
  private readonly instance = randomUUID();
  /** Per job, the tail of its reports being applied here, so they apply in publish order. */
  private readonly inOrder = new Map<string, Promise<void>>();
  private readonly counters: ExternalStatusCounters = {
    accepted: 0,
    dropped: { malformed: 0, invalid: 0, unknownJob: 0, notAllowed: 0 },
  };

  constructor(
    private readonly redis: RedisService,
    private readonly jobs: JobRepository,
    private readonly lifecycle: JobLifecycleService,
    private readonly queues: JobQueueService,
    private readonly registry: JobRegistry,
  ) {}

  /** EXTERNAL_<KIND>_STATUS_CHANNEL: each carries reports of its kinds' jobs only. */
  private kindChannels(): Map<string, Set<string>> {
    const channels = new Map<string, Set<string>>();
    for (const { kind } of this.registry.external()) {
      const channel = kind.external.statusChannel;
      if (channel === null || channel === this.statusChannel()) continue;
      channels.set(channel, (channels.get(channel) ?? new Set<string>()).add(kind.name));
    }
    return channels;
  }

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
    const kindChannels = this.kindChannels();
    this.subscriber.on('message', (channel: string, raw: string) => {
      this.receive(channel, raw, parseStatusMessage(raw), kindChannels.get(channel));
    });
    this.subscriber.on('pmessage', (_pattern: string, channel: string, raw: string) => {
      this.receive(channel, raw, parseStreamMessage(channel.slice(streamPrefix.length), raw));
    });
    await this.subscriber.subscribe(this.statusChannel(), ...kindChannels.keys());
    await this.subscriber.psubscribe(`${streamPrefix}*`);
  }

  /** Claims at once (claims go out in arrival order), applies after the job's earlier reports. */
  private receive(
    channel: string,
    raw: string,
    parsed: ParsedStatus,
    kinds?: ReadonlySet<string>,
  ): void {
    const claimed = this.claim(channel, raw, parsed).catch((error: Error) => {
      this.logger.error(`status report on ${channel} not claimed: ${error.message}`);
      return false;
    });
    const key = parsed.ok ? parsed.request.jobId.toLowerCase() : '';
    const tail = (this.inOrder.get(key) ?? Promise.resolve())
      .then(() => this.handle(channel, raw, parsed, claimed, kinds))
      .finally(() => {
        if (this.inOrder.get(key) === tail) this.inOrder.delete(key);
      });
    this.inOrder.set(key, tail);
  }

  private async claim(channel: string, raw: string, parsed: ParsedStatus): Promise<boolean> {
    if (parsed.ok) {
      const key = this.redis.key('status-owner', parsed.request.jobId.toLowerCase());
      return (await this.redis.client.eval(CLAIM_JOB, 1, key, this.instance, CLAIM_MS)) === 1;
    }
    const digest = createHash('sha1').update(channel).update('\n').update(raw).digest('hex');
    const key = this.redis.key('status-claim', digest);
    return (await this.redis.client.set(key, '1', 'PX', CLAIM_MS, 'NX')) === 'OK';
  }

  private async handle(
    channel: string,
    raw: string,
    parsed: ParsedStatus,
    claimed: Promise<boolean>,
    kinds: ReadonlySet<string> | undefined,
  ): Promise<void> {
    try {
      if (!(await claimed)) return;
      if (!parsed.ok) return this.drop(parsed.reason, parsed.detail, raw);
      const { jobId, userId, change } = parsed.request;
      const job = await this.jobs.findById(jobId);
      if (!job) return this.drop('unknownJob', `no job ${jobId}`, raw);
      if (kinds && !kinds.has(job.kind)) {
        return this.drop('invalid', `job ${jobId} is not of a kind reported on ${channel}`, raw);
      }
      if (userId !== undefined && userId !== job.userId) {
        return this.drop('invalid', `job ${jobId} does not belong to ${userId}`, raw);
      }
      if (isTerminal(job.status)) {
        return this.drop('notAllowed', `job ${jobId} is already ${job.status}`, raw);
      }
      // "processing" starts a queued job; on a running one it is a no-op, not a new attempt.
      if (job.status === 'queued') {
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
