import { Injectable, Logger } from '@nestjs/common';
import type { Job } from '../generated/prisma/client';
import { hashTag } from '../redis/redis-keys';
import { RedisService } from '../redis/redis.service';
import type { StoredEvent } from './job.repository';
import { isTerminal, type TokenCount } from './job.types';

/** Upper bounds (seconds) of the queue-to-finish histogram: jobs run from a second to an hour. */
export const JOB_DURATION_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

const SEP = '\t';
/** The one field added by fractions (HINCRBYFLOAT); the others count by whole numbers. */
const SUM = `${SEP}sum`;

export type MetricsHash = 'jobs' | 'events' | 'duration' | 'tokens';

/**
 * The counters' hashes share one tag: a flush touches them together, and on a cluster its
 * commands then leave for one node in one write.
 */
export function metricsKeys(prefix: string): Record<MetricsHash, string> {
  const tag = hashTag('metrics');
  return {
    jobs: `${prefix}:${tag}:jobs`,
    events: `${prefix}:${tag}:events`,
    duration: `${prefix}:${tag}:duration`,
    tokens: `${prefix}:${tag}:tokens`,
  };
}

export interface LabelledCount {
  kind: string;
  status: string;
  value: number;
}

export interface DurationSnapshot {
  kind: string;
  /** Cumulative counts, one per bound of JOB_DURATION_BUCKETS, then +Inf. */
  buckets: number[];
  sum: number;
  count: number;
}

export interface TokenTotal {
  provider: string;
  model: string;
  direction: 'input' | 'output';
  value: number;
}

export interface JobMetricsSnapshot {
  jobs: LabelledCount[];
  events: LabelledCount[];
  durations: DurationSnapshot[];
  tokens: TokenTotal[];
}

/**
 * Job counters shared by every process: a job finishes in whichever process applies its last
 * change (a worker, or the api for a cancel or an external worker), and workers serve no HTTP,
 * so the counts live in Redis, where any api instance reads the cluster-wide totals.
 *
 * The counts of one tick are summed here and sent once its promise chains have settled, as plain
 * commands on the auto-pipelined client: under load a tick holds a whole write batch's events,
 * and they leave in one write with the batch's PUBLISH (with one MULTI per event, their writes
 * alone were a tenth of a worker's CPU). Each HINCRBY is atomic; nothing needs the counts to
 * move together.
 */
@Injectable()
export class JobMetricsService {
  private readonly logger = new Logger(JobMetricsService.name);
  private pending = new Map<MetricsHash, Map<string, number>>();
  private readonly keys: Record<MetricsHash, string>;
  private flushing: Promise<void> | undefined;

  constructor(private readonly redis: RedisService) {
    this.keys = metricsKeys(redis.key());
  }

  /**
   * Counts an event just persisted; a job's end also counts the job and its duration, and the
   * LLM tokens it spent.
   */
  record(event: StoredEvent, job?: Job, usage?: TokenCount | null): Promise<void> {
    this.add('events', `${event.kind}${SEP}${event.status}`, 1);
    const finished = job !== undefined && isTerminal(event.status);
    if (finished) {
      const seconds = Math.max(
        0,
        ((job.finishedAt ?? event.createdAt).getTime() - job.createdAt.getTime()) / 1000,
      );
      const bucket = JOB_DURATION_BUCKETS.find((bound) => seconds <= bound);
      this.add('jobs', `${job.kind}${SEP}${event.status}`, 1);
      this.add('duration', `${job.kind}${SEP}${bucket ?? '+Inf'}`, 1);
      this.add('duration', `${job.kind}${SEP}count`, 1);
      this.add('duration', `${job.kind}${SUM}`, seconds);
    }
    if (usage) {
      const model = `${usage.provider}${SEP}${usage.model}`;
      if (usage.inputTokens > 0) this.add('tokens', `${model}${SEP}input`, usage.inputTokens);
      if (usage.outputTokens > 0) this.add('tokens', `${model}${SEP}output`, usage.outputTokens);
    }
    this.flushing ??= new Promise<void>((resolve) => process.nextTick(resolve)).then(() =>
      this.flush(),
    );
    return this.flushing;
  }

  private add(hash: MetricsHash, field: string, by: number): void {
    let fields = this.pending.get(hash);
    if (!fields) this.pending.set(hash, (fields = new Map<string, number>()));
    fields.set(field, (fields.get(field) ?? 0) + by);
  }

  private async flush(): Promise<void> {
    const counts = this.pending;
    this.pending = new Map();
    this.flushing = undefined;
    const client = this.redis.client;
    const sent: Promise<unknown>[] = [];
    for (const [hash, fields] of counts) {
      for (const [field, by] of fields) {
        sent.push(
          field.endsWith(SUM)
            ? client.hincrbyfloat(this.keys[hash], field, by)
            : client.hincrby(this.keys[hash], field, by),
        );
      }
    }
    const failed = (await Promise.allSettled(sent)).find(
      (outcome) => outcome.status === 'rejected',
    );
    if (failed) {
      // A lost count must never fail or delay the job itself.
      const events = [...(counts.get('events')?.values() ?? [])].reduce((a, b) => a + b, 0);
      const reason = (failed.reason as Error).message;
      this.logger.warn(`metrics for ${events} event(s) not (all) counted: ${reason}`);
    }
  }

  async snapshot(): Promise<JobMetricsSnapshot> {
    const [jobs, events, duration, tokenHash] = await Promise.all([
      this.redis.client.hgetall(this.keys.jobs),
      this.redis.client.hgetall(this.keys.events),
      this.redis.client.hgetall(this.keys.duration),
      this.redis.client.hgetall(this.keys.tokens),
    ]);
    return {
      jobs: counts(jobs),
      events: counts(events),
      durations: durations(duration),
      tokens: tokens(tokenHash),
    };
  }
}

function counts(hash: Record<string, string>): LabelledCount[] {
  return Object.entries(hash).map(([field, value]) => {
    const [kind = '', status = ''] = field.split(SEP);
    return { kind, status, value: Number(value) };
  });
}

function tokens(hash: Record<string, string>): TokenTotal[] {
  return Object.entries(hash).map(([field, value]) => {
    const [provider = '', model = '', direction] = field.split(SEP);
    return {
      provider,
      model,
      direction: direction === 'input' ? 'input' : 'output',
      value: Number(value),
    };
  });
}

function durations(hash: Record<string, string>): DurationSnapshot[] {
  const byKind = new Map<string, Map<string, number>>();
  for (const [field, value] of Object.entries(hash)) {
    const [kind = '', part = ''] = field.split(SEP);
    let fields = byKind.get(kind);
    if (!fields) byKind.set(kind, (fields = new Map<string, number>()));
    fields.set(part, Number(value));
  }
  return [...byKind].map(([kind, fields]) => {
    let running = 0;
    const buckets = [...JOB_DURATION_BUCKETS.map(String), '+Inf'].map(
      (bound) => (running += fields.get(bound) ?? 0),
    );
    return { kind, buckets, sum: fields.get('sum') ?? 0, count: fields.get('count') ?? 0 };
  });
}
