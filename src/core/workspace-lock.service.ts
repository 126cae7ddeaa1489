import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { messageOf } from '../common/errors';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { RedisService } from '../redis/redis.service';
import { guardDependency } from '../common/dependency.errors';
import { JobQueueService } from './job-queue.service';
import { hashTag } from '../redis/redis-keys';

export interface WorkspaceLeaseKeys {
  lease: string;
  waiters: string;
  /** The waiters' arrival counter. */
  waitersSeq: string;
}

/** One project's keys share its tag: the acquire script touches all three (docs/workspace-leases.md). */
export function workspaceLeaseKeys(prefix: string, projectId: string): WorkspaceLeaseKeys {
  const tag = hashTag(projectId);
  return {
    lease: `${prefix}:workspace-lock:${tag}`,
    waiters: `${prefix}:workspace-waiters:${tag}`,
    waitersSeq: `${prefix}:workspace-waiters:${tag}:seq`,
  };
}

/** A waiter in a project's set: `<kind>:<jobId>` (a kind name may hold ':', a job id not). */
function waiterMember(kind: string, jobId: string): string {
  return `${kind}:${jobId}`;
}

function parseWaiter(member: string): { kind: string; jobId: string } {
  const split = member.lastIndexOf(':');
  return { kind: member.slice(0, split), jobId: member.slice(split + 1) };
}

/**
 * KEYS: lease, waiters, waiters' arrival counter. ARGV: token (`<jobId>:<run>`), job id prefix
 * (`<jobId>:`), ttl ms, waiter member (`<kind>:<jobId>`), waiters ttl ms, then the ancestors'
 * prefixes (`<ancestorId>:`).
 * Waiters are ranked by a counter, not a clock: two arriving in one millisecond keep their order.
 * Free, or held by an earlier run of the same job (its worker died): taken at once (-2).
 * Held by a run of an ancestor: the step runs inside it; its value returned.
 * Otherwise the job joins the waiters (keeping its place) and gets the lease's time left if
 * nobody renews it, then the first waiters: whether their BullMQ jobs still exist is read outside
 * the script, since those keys live in their queue's slot (docs/workspace-leases.md).
 */
const ACQUIRE = `
local current = redis.call('get', KEYS[1])
if not current or string.sub(current, 1, #ARGV[2]) == ARGV[2] then
  redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[3])
  redis.call('zrem', KEYS[2], ARGV[4])
  return -2
end
for i = 6, #ARGV do
  if string.sub(current, 1, #ARGV[i]) == ARGV[i] then
    redis.call('zrem', KEYS[2], ARGV[4])
    return current
  end
end
if not redis.call('zscore', KEYS[2], ARGV[4]) then
  redis.call('zadd', KEYS[2], redis.call('incr', KEYS[3]), ARGV[4])
end
redis.call('pexpire', KEYS[2], ARGV[5])
redis.call('pexpire', KEYS[3], ARGV[5])
local answer = redis.call('zrange', KEYS[2], 0, 9)
table.insert(answer, 1, redis.call('pttl', KEYS[1]))
return answer`;

/** Extends the run's own lease; takes it back if it lapsed and nobody else took it (1), or 0. */
const RENEW = `
local current = redis.call('get', KEYS[1])
if current == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
if not current then redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0`;
/** Extends a lease borrowed from an ancestor while it is still that run's; never takes it. */
const EXTEND = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0`;

/** 0.25 s, 0.5 s, 1 s … 16 s apart: about 30 s of retries, then the lease lapses by itself. */
const RELEASE_ATTEMPTS = 8;
const RELEASE_RETRY_MS = 250;
/** Every wait refreshes it; it only lets a forgotten project's set go. */
const WAITERS_TTL_MS = 24 * 3600_000;
/** The first waiter comes back this long after the lease would lapse, not a moment before. */
const LAPSE_MARGIN_MS = 50;

export interface WorkspaceLease {
  /** Never throws: a release Redis refuses is retried in the background. */
  release(): Promise<void>;
  /**
   * Stops renewing without releasing: the lease lapses within JOB_LOCK_MS unless a step running
   * inside it keeps it alive, and the job's next run takes it over.
   */
  leave(): void;
}

export interface WorkspaceBusy {
  /** Set for the first waiter only: when the lease lapses unless its holder renews it. */
  readonly lapsesInMs: number | null;
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/**
 * One job at a time per project workspace, across every worker process. A lease belongs to one
 * run of one job and lives JOB_LOCK_MS unless that run renews it (every JOB_LOCK_MS/2, like
 * BullMQ's job lock), so a dead worker's lease is free within JOB_LOCK_MS, and the recovered
 * run of the same job takes it over at once. Jobs that find the workspace busy are recorded
 * as waiters, and the first of them is promoted out of the delayed set when the lease is freed.
 */
@Injectable()
export class WorkspaceLockService {
  private readonly logger = new Logger(WorkspaceLockService.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly redis: RedisService,
    private readonly queues: JobQueueService,
  ) {}

  /**
   * Takes the project's lease for this job, or records the job (of queue `kind`) as waiting. A
   * step (docs/child-jobs.md) whose ancestor holds the lease runs inside it: it keeps the lease
   * alive while it runs and leaves it to the ancestor.
   */
  acquire(
    projectId: string,
    jobId: string,
    kind: string,
    ancestors: readonly string[] = [],
  ): Promise<WorkspaceLease | WorkspaceBusy> {
    const keys = this.keys(projectId);
    const key = keys.lease;
    const token = `${jobId}:${randomUUID()}`;
    const ttl = this.config.lockDurationMs;
    const member = waiterMember(kind, jobId);
    return guardDependency('redis', async () => {
      const answer = (await this.redis.client.eval(
        ACQUIRE,
        3,
        key,
        keys.waiters,
        keys.waitersSeq,
        token,
        `${jobId}:`,
        ttl,
        member,
        WAITERS_TTL_MS,
        ...ancestors.map((id) => `${id}:`),
      )) as number | string | [number, ...string[]];
      if (typeof answer === 'string') return this.borrowed(key, answer, ttl);
      if (Array.isArray(answer)) {
        const [pttl, ...head] = answer;
        const first = await this.firstLiveWaiter(keys.waiters, head, member);
        const lapses = first === member && pttl >= 0 ? pttl + LAPSE_MARGIN_MS : null;
        return { lapsesInMs: lapses };
      }
      const timer = setInterval(() => {
        this.redis.client.eval(RENEW, 1, key, token, ttl).then(
          (renewed) => {
            if (Number(renewed) === 0) {
              this.logger.warn(`job ${jobId}: workspace lease of project ${projectId} was lost`);
            }
          },
          // Redis away: the next renewal tries again; the lease lives JOB_LOCK_MS meanwhile.
          () => undefined,
        );
      }, ttl / 2);
      timer.unref();
      return {
        release: async () => {
          clearInterval(timer);
          await this.release(projectId, token);
        },
        leave: () => clearInterval(timer),
      };
    });
  }

  /**
   * The first waiter whose BullMQ job still exists; the ones before it whose job is gone
   * (cancelled, removed) leave the set. A waiter of a kind this process has no queue for is
   * passed over and kept, as wake() does.
   */
  private async firstLiveWaiter(
    waitersKey: string,
    head: readonly string[],
    self: string,
  ): Promise<string | null> {
    const gone: string[] = [];
    let first: string | null = null;
    for (const member of head) {
      const waiter = parseWaiter(member);
      const alive = member === self || (await this.queues.exists(waiter.kind, waiter.jobId));
      if (alive === false) gone.push(member);
      else if (alive) {
        first = member;
        break;
      }
    }
    if (gone.length > 0) await this.redis.client.zrem(waitersKey, ...gone);
    return first;
  }

  private borrowed(key: string, token: string, ttl: number): WorkspaceLease {
    // Should the ancestor's worker die meanwhile, the lease lives on for as long as the step runs.
    const timer = setInterval(() => {
      this.redis.client.eval(EXTEND, 1, key, token, ttl).catch(() => undefined);
    }, ttl / 2);
    timer.unref();
    return {
      release: () => {
        clearInterval(timer);
        return Promise.resolve();
      },
      leave: () => clearInterval(timer),
    };
  }

  /**
   * Called once a busy job sits in the delayed set: if the lease was freed between its attempt
   * and now, nobody else will wake the waiters, so this does.
   */
  async waiting(projectId: string): Promise<void> {
    try {
      if ((await this.redis.client.exists(this.keys(projectId).lease)) === 0) {
        await this.wake(projectId);
      }
    } catch (error) {
      this.logger.warn(`project ${projectId}: waiters not checked: ${messageOf(error)}`);
    }
  }

  private async release(projectId: string, token: string): Promise<void> {
    const attempt = async () => {
      await this.redis.client.eval(RELEASE, 1, this.keys(projectId).lease, token);
      await this.wake(projectId);
    };
    try {
      await attempt();
    } catch (error) {
      this.logger.warn(
        `project ${projectId}: workspace release failed, retrying: ${messageOf(error)}`,
      );
      void this.retryRelease(projectId, attempt);
    }
  }

  private async retryRelease(projectId: string, attempt: () => Promise<void>): Promise<void> {
    for (let n = 1; n < RELEASE_ATTEMPTS; n += 1) {
      await pause(RELEASE_RETRY_MS * 2 ** (n - 1));
      try {
        await attempt();
        return;
      } catch {
        // Redis is still away; the next attempt waits longer.
      }
    }
    this.logger.warn(
      `project ${projectId}: workspace release given up; the lease lapses by itself`,
    );
  }

  /** Promotes the first waiter that is still delayed; stops at one already on its way. */
  private async wake(projectId: string): Promise<void> {
    const waitersKey = this.keys(projectId).waiters;
    const members = await this.redis.client.zrange(waitersKey, 0, 9);
    for (const member of members) {
      const { kind, jobId } = parseWaiter(member);
      const outcome = await this.queues.promoteDelayed(kind, jobId);
      if (outcome === 'gone') await this.redis.client.zrem(waitersKey, member);
      else if (outcome !== 'unknown-kind') return;
    }
  }

  private keys(projectId: string): WorkspaceLeaseKeys {
    return workspaceLeaseKeys(this.config.prefix, projectId);
  }
}
