import { randomUUID } from 'node:crypto';
import { Queue, type ConnectionOptions, type Job as BullJob, type JobsOptions } from 'bullmq';
import type Redis from 'ioredis';
import { queuePrefix } from '../redis/redis-keys';
import type { QueuedJobData } from './job.types';

/**
 * The states a job still to run can be in (a paused queue keeps its jobs in wait); completed and
 * failed history is left behind, the database holds it.
 */
const UNFINISHED = ['wait', 'prioritized', 'delayed', 'active'] as const;
type UnfinishedState = (typeof UNFINISHED)[number];
const LOCK_HOLD_MS = 60_000;
const RENEW_EVERY = 100;
/** BullMQ scores a delayed job with its due time shifted left by 12 bits (a counter below). */
const DELAYED_SCORE_SHIFT = 0x1000;

const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1]) end return 0`;

export interface KindUpgrade {
  kind: string;
  moved: Record<UnfinishedState, number>;
  /** Active jobs whose worker still holds their lock: left for a later round. */
  held: string[];
  /** The old queue held nothing more to run and was deleted. */
  removed: boolean;
}

/** 'busy': another process holds the upgrade's lock. */
export type LayoutUpgrade = { kinds: KindUpgrade[]; done: boolean } | 'busy';

export interface LayoutUpgradeTarget {
  /** A connection to one Redis (the single-prefix layout never existed on a cluster). */
  client: Redis;
  connection: ConnectionOptions;
  prefix: string;
  kinds: readonly string[];
}

/** The lock that lets one process at a time move jobs out of the single-prefix layout. */
export function layoutUpgradeLockKey(prefix: string): string {
  return `${prefix}:layout-upgrade`;
}

/**
 * Moves every job still to run from the single-prefix layout (BullMQ's prefix was QUEUE_PREFIX for
 * every kind) to the per-kind tagged one, keeping its id, name, data, options and remaining delay
 * (docs/redis-cluster.md, "Upgrading from the single-prefix layout"). Each job is added to the new
 * queue before it leaves the old one, and an add of an id already there changes nothing: a run
 * that dies midway is completed by the next one. An old queue left with nothing to run is deleted.
 */
export async function upgradeQueueLayout(target: LayoutUpgradeTarget): Promise<LayoutUpgrade> {
  const { client, prefix } = target;
  const lock = layoutUpgradeLockKey(prefix);
  const token = randomUUID();
  if ((await client.set(lock, token, 'PX', LOCK_HOLD_MS, 'NX')) !== 'OK') return 'busy';
  const renew = async () => {
    if ((await client.eval(RENEW, 1, lock, token, LOCK_HOLD_MS)) !== 1) {
      throw new Error('the layout upgrade lock was lost');
    }
  };
  try {
    const kinds: KindUpgrade[] = [];
    for (const kind of target.kinds) {
      const upgraded = await upgradeKind(target, kind, renew);
      if (upgraded) kinds.push(upgraded);
    }
    return { kinds, done: kinds.every((k) => k.removed) };
  } finally {
    await client.eval(RELEASE, 1, lock, token).catch(() => undefined);
  }
}

/** The kinds with a queue in the single-prefix layout, found by its meta hash (one Redis only). */
export async function oldLayoutKinds(client: Redis, prefix: string): Promise<string[]> {
  const kinds = new Set<string>();
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*:meta`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const kind = key.slice(prefix.length + 1, -':meta'.length);
      // The tagged layout's keys and other per-prefix keys have a ':' or '{' in that place.
      if (kind !== '' && !/[:{}]/.test(kind)) kinds.add(kind);
    }
  } while (cursor !== '0');
  return [...kinds].sort();
}

async function upgradeKind(
  target: LayoutUpgradeTarget,
  kind: string,
  renew: () => Promise<void>,
): Promise<KindUpgrade | null> {
  const { client, prefix } = target;
  const base = `${prefix}:${kind}`;
  const present = await client.exists(
    ...['meta', 'id', ...UNFINISHED, 'completed', 'failed'].map((k) => `${base}:${k}`),
  );
  if (present === 0) return null;
  // No meta update: opening the old queue must not bring back a key once it is deleted.
  const opts = { connection: target.connection, skipMetasUpdate: true };
  const from = new Queue<QueuedJobData>(kind, { ...opts, prefix });
  const to = new Queue<QueuedJobData>(kind, { ...opts, prefix: queuePrefix(prefix, kind) });
  try {
    await renew();
    const upgraded: KindUpgrade = {
      kind,
      moved: { wait: 0, prioritized: 0, delayed: 0, active: 0 },
      held: [],
      removed: false,
    };
    let count = 0;
    for (const state of UNFINISHED) {
      for (const id of await from.getRanges([state], 0, -1, true)) {
        if ((count += 1) % RENEW_EVERY === 0) await renew();
        if (state === 'active' && (await client.exists(`${base}:${id}:lock`)) === 1) {
          upgraded.held.push(id);
          continue;
        }
        const job = await from.getJob(id);
        if (!job) continue;
        await to.add(job.name, dataFor(job, state), await optionsFor(client, base, id, job, state));
        if ((await from.remove(id)) === 1) upgraded.moved[state] += 1;
      }
    }
    const left = await from.getJobCounts(...UNFINISHED, 'waiting-children');
    if (Object.values(left).every((n) => n === 0)) {
      await from.obliterate({ force: true });
      upgraded.removed = true;
    }
    return upgraded;
  } finally {
    await Promise.all([from.close(), to.close()]);
  }
}

/** A job that has started before has its attempts counted by its row: its next start reads it. */
function dataFor(job: BullJob<QueuedJobData>, state: UnfinishedState): QueuedJobData {
  const started =
    state === 'active' ||
    job.attemptsMade > 0 ||
    job.attemptsStarted > 0 ||
    (job.stalledCounter ?? 0) > 0;
  return started ? { ...job.data, resumed: true } : job.data;
}

async function optionsFor(
  client: Redis,
  base: string,
  id: string,
  job: BullJob<QueuedJobData>,
  state: UnfinishedState,
): Promise<JobsOptions> {
  const { attempts, backoff, removeOnComplete, removeOnFail } = job.opts;
  let delay = 0;
  if (state === 'delayed') {
    const score = await client.zscore(`${base}:delayed`, id);
    const due =
      score === null ? job.timestamp + job.delay : Math.floor(Number(score) / DELAYED_SCORE_SHIFT);
    delay = Math.max(0, due - Date.now());
  }
  return {
    jobId: id,
    ...(job.priority > 0 && { priority: job.priority }),
    ...(attempts !== undefined && { attempts }),
    ...(backoff !== undefined && { backoff }),
    ...(removeOnComplete !== undefined && { removeOnComplete }),
    ...(removeOnFail !== undefined && { removeOnFail }),
    ...(delay > 0 && { delay }),
  };
}

/** One line per kind found in the old layout: what moved, what waits for its worker's lock. */
export function describeUpgrade(kinds: readonly KindUpgrade[]): string[] {
  return kinds.map(({ kind, moved, held, removed }) => {
    const counts = Object.entries(moved)
      .filter(([, n]) => n > 0)
      .map(([state, n]) => `${n} ${state === 'wait' ? 'waiting' : state}`);
    const what = counts.length > 0 ? `moved ${counts.join(', ')}` : 'nothing to move';
    let rest = 'old queue deleted';
    if (!removed && held.length > 0) {
      rest = `${held.length} active job(s) locked by a running worker (${held.join(', ')}), moved once it stops`;
    } else if (!removed) rest = 'old queue kept: it still holds jobs waiting for children';
    return `${kind}: ${what}; ${rest}`;
  });
}
