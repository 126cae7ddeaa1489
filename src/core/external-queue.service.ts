import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Job } from '../generated/prisma/client';
import { RedisService } from '../redis/redis.service';
import { tagOfKey } from '../redis/redis-keys';
import { guardDependency } from '../common/dependency.errors';
import { JobLifecycleService } from './job-lifecycle.service';
import { JobRegistry } from './job-registry';
import type { ExternalRunner, JobPolicies } from './job.types';

/** The Redis channel on which cancellations go out to every worker, Conveyor's and external. */
export const CANCEL_CHANNEL = 'cancel';

const SWEEP_BATCH = 100;

/** list, held list, deadlines, items, paused flag: the order the scripts' KEYS take them in. */
export type ExternalKindKeys = [string, string, string, string, string];

/**
 * The list keeps the name its outside workers pop (docs/external-workers.md); the kind's other
 * keys take the list's hash tag, so the scripts that move items between them run on one slot.
 */
export function externalKindKeys(prefix: string, listName: string, kind: string): ExternalKindKeys {
  const tag = tagOfKey(listName);
  return [
    listName,
    `${prefix}:external-held:${tag}:${kind}`,
    `${prefix}:external-deadlines:${tag}:${kind}`,
    `${prefix}:external-items:${tag}:${kind}`,
    `${prefix}:external-paused:${tag}:${kind}`,
  ];
}

/**
 * Keeps the item (to find it in the list again), the deadline and the list push together.
 * While the kind is paused the item waits in a held list and its time does not run.
 */
const PUSH = `redis.call('HSET', KEYS[4], ARGV[1], ARGV[2])
if redis.call('EXISTS', KEYS[5]) == 1 then
  redis.call('RPUSH', KEYS[2], ARGV[2])
else
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
  redis.call('RPUSH', KEYS[1], ARGV[2])
end
return 1`;

/** Forgets a job: 1 if its item was still waiting in a list, 0 if a worker took it, -1 if unknown. */
const REMOVE = `local item = redis.call('HGET', KEYS[4], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
if not item then return -1 end
if redis.call('LREM', KEYS[1], 1, item) + redis.call('LREM', KEYS[2], 1, item) > 0 then return 1 end
return 0`;

/** Claims an expired job for this process (the ZREM), then forgets it. */
const EXPIRE = `if redis.call('ZREM', KEYS[3], ARGV[1]) == 0 then return 0 end
local item = redis.call('HGET', KEYS[4], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
if item then
  redis.call('LREM', KEYS[1], 1, item)
  redis.call('LREM', KEYS[2], 1, item)
end
return 1`;

/** Releases the held items into the list, in order, and starts their time. */
const RESUME = `redis.call('DEL', KEYS[5])
local moved = 0
while true do
  local item = redis.call('LMOVE', KEYS[2], KEYS[1], 'LEFT', 'RIGHT')
  if not item then break end
  local id = item
  if ARGV[1] == 'json' then id = cjson.decode(item).jobId end
  redis.call('ZADD', KEYS[3], tonumber(ARGV[2]), id)
  moved = moved + 1
end
return moved`;

export interface ExternalQueueStats {
  paused: boolean;
  waiting: number;
  active: number;
}

/**
 * The queue side of external kinds (docs/external-workers.md): jobs are RPUSHed to the kind's
 * Redis list for workers outside Conveyor; a job not finished within the kind's timeout ends in
 * error. Every process sweeps the deadlines; the ZREM decides which one records the timeout.
 */
@Injectable()
export class ExternalQueueService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ExternalQueueService.name);
  private sweeper?: NodeJS.Timeout;
  private sweeping?: Promise<void>;

  constructor(
    private readonly registry: JobRegistry,
    private readonly redis: RedisService,
    private readonly lifecycle: JobLifecycleService,
  ) {}

  isExternal(kind: string): boolean {
    return this.registry.get(kind).kind.external !== undefined;
  }

  onApplicationBootstrap(): void {
    const kinds = this.registry.external();
    if (kinds.length === 0) return;
    const shortest = Math.min(...kinds.map(({ policies }) => policies.timeoutMs));
    const every = Math.max(50, Math.min(1000, Math.floor(shortest / 10)));
    this.sweeper = setInterval(() => {
      this.sweeping ??= this.sweep().finally(() => (this.sweeping = undefined));
    }, every);
    this.sweeper.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.sweeper);
    await this.sweeping;
  }

  /** What the kind's workers pop: the JSON job item, or the bare-id item. */
  item(job: Job): string {
    const { external } = this.runner(job.kind);
    if (external.item === 'id') return job.id;
    return JSON.stringify({
      jobId: job.id,
      // The per-job channel ExternalStatusService reads the stream-channel format from.
      streamId: this.redis.key('stream', job.id),
      project_id: job.projectId,
      user_id: job.userId,
      request_id: job.requestId,
      toolName: job.kind,
      params: job.params,
    });
  }

  enqueue(job: Job): Promise<void> {
    const { policies } = this.runner(job.kind);
    return guardDependency('redis', async () => {
      const deadline = Date.now() + policies.timeoutMs;
      await this.redis.client.eval(
        PUSH,
        5,
        ...this.keys(job.kind),
        job.id,
        this.item(job),
        deadline,
      );
    });
  }

  /** Removes a waiting item; a job a worker already took is told to stop on the cancel channel. */
  cancel(kind: string, jobId: string): Promise<'removed' | 'running' | 'absent'> {
    return guardDependency('redis', async () => {
      const removed = await this.redis.client.eval(REMOVE, 5, ...this.keys(kind), jobId);
      await this.redis.client.publish(this.redis.key(CANCEL_CHANNEL), jobId);
      return removed === 1 ? 'removed' : removed === 0 ? 'running' : 'absent';
    });
  }

  /** The job ended (its worker reported done or error): nothing of it stays in Redis. */
  discard(kind: string, jobId: string): Promise<void> {
    return guardDependency('redis', async () => {
      await this.redis.client.eval(REMOVE, 5, ...this.keys(kind), jobId);
    });
  }

  stats(kind: string): Promise<ExternalQueueStats> {
    const [list, held, deadlines, , paused] = this.keys(kind);
    return guardDependency('redis', async () => {
      const [waiting, waitingHeld, outstanding, isPaused] = await Promise.all([
        this.redis.client.llen(list),
        this.redis.client.llen(held),
        this.redis.client.zcard(deadlines),
        this.redis.client.exists(paused),
      ]);
      return {
        paused: isPaused === 1,
        waiting: waiting + waitingHeld,
        active: Math.max(0, outstanding - waiting),
      };
    });
  }

  /** New jobs wait in a held list (their time not running) until resume. */
  pause(kind: string): Promise<void> {
    const paused = this.keys(kind)[4];
    return guardDependency('redis', async () => {
      await this.redis.client.set(paused, '1');
    });
  }

  resume(kind: string): Promise<void> {
    const { external, policies } = this.runner(kind);
    return guardDependency('redis', async () => {
      const deadline = Date.now() + policies.timeoutMs;
      await this.redis.client.eval(RESUME, 5, ...this.keys(kind), external.item, deadline);
    });
  }

  private async sweep(): Promise<void> {
    for (const { kind, policies } of this.registry.external()) {
      try {
        const keys = this.keys(kind.name);
        const expired = await this.redis.client.zrangebyscore(
          keys[2],
          '-inf',
          Date.now(),
          'LIMIT',
          0,
          SWEEP_BATCH,
        );
        for (const jobId of expired) {
          if ((await this.redis.client.eval(EXPIRE, 5, ...keys, jobId)) !== 1) continue;
          await this.lifecycle.apply(jobId, {
            type: 'error',
            error: `no external worker finished the job within ${policies.timeoutMs} ms`,
          });
          await this.redis.client.publish(this.redis.key(CANCEL_CHANNEL), jobId);
        }
      } catch (error) {
        this.logger.warn(`external ${kind.name}: deadlines not swept: ${(error as Error).message}`);
      }
    }
  }

  private keys(kind: string): ExternalKindKeys {
    return externalKindKeys(this.redis.key(), this.runner(kind).external.list, kind);
  }

  private runner(kind: string): { external: ExternalRunner; policies: JobPolicies } {
    const { kind: registered, policies } = this.registry.get(kind);
    if (!registered.external) throw new Error(`kind "${kind}" is not external`);
    return { external: registered.external, policies };
  }
}
