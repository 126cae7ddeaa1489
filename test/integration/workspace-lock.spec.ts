import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import Redis from 'ioredis';
import {
  WorkspaceLockService,
  workspaceLeaseKeys,
  type WorkspaceBusy,
  type WorkspaceLease,
} from '../../src/core/workspace-lock.service';
import { redisOptionsFromUrl } from '../../src/redis/redis-options';
import { startStack } from '../support/app';
import { freePort } from '../support/ports';
import { TEST_REDIS_URL } from '../support/redis';
import { RedisServer } from '../support/redis-server';
import { waitFor } from '../support/wait';
import { workspaceEchoKind } from '../support/workspace-kinds';
import { queuePrefix } from '../../src/redis/redis-keys';

const KIND = workspaceEchoKind.name;

function leaseOf(outcome: WorkspaceLease | WorkspaceBusy): WorkspaceLease {
  if (!('release' in outcome)) throw new Error('expected the lease, the workspace was busy');
  return outcome;
}

function busyOf(outcome: WorkspaceLease | WorkspaceBusy): WorkspaceBusy {
  if ('release' in outcome) throw new Error('expected a busy workspace, got the lease');
  return outcome;
}

/** One api-role stack (no worker consumes the queue) and a queue to hold waiting jobs. */
async function open(label: string, redisUrl: string, lockMs: number) {
  const stack = await startStack(label, [workspaceEchoKind], {
    APP_ROLE: 'api',
    REDIS_URL: redisUrl,
    JOB_LOCK_MS: String(lockMs),
  });
  const connection = { ...redisOptionsFromUrl(redisUrl), maxRetriesPerRequest: null };
  const queue = new Queue(KIND, { connection, prefix: queuePrefix(stack.prefix, KIND) });
  const raw = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  const locks = stack.app.get(WorkspaceLockService);
  /** A job waiting for its workspace: far in the delayed set, recorded as a waiter. */
  const waiter = async (projectId: string): Promise<{ id: string; busy: WorkspaceBusy }> => {
    const id = randomUUID();
    await queue.add(KIND, { jobId: id }, { jobId: id, delay: 600_000 });
    return { id, busy: busyOf(await locks.acquire(projectId, id, KIND)) };
  };
  const state = async (id: string) => (await queue.getJob(id))?.getState();
  const leaseKey = (projectId: string) => workspaceLeaseKeys(stack.prefix, projectId).lease;
  const close = async () => {
    raw.disconnect();
    await queue.close();
    await stack.close();
  };
  return { stack, queue, raw, locks, waiter, state, leaseKey, close };
}

describe('workspace leases (real Redis)', () => {
  const LOCK_MS = 2000;
  let ctx: Awaited<ReturnType<typeof open>>;

  beforeAll(async () => {
    ctx = await open('ws-lock', TEST_REDIS_URL, LOCK_MS);
  });

  afterAll(async () => {
    await ctx?.close();
  });

  it('lives JOB_LOCK_MS, is renewed while its run lives, and is gone on release', async () => {
    const project = randomUUID();
    const lease = leaseOf(await ctx.locks.acquire(project, randomUUID(), KIND));
    expect(await ctx.raw.pttl(ctx.leaseKey(project))).toBeLessThanOrEqual(LOCK_MS);
    const since = Date.now();
    await waitFor(
      'two lease lifetimes to pass with the lease renewed',
      async () => {
        if ((await ctx.raw.exists(ctx.leaseKey(project))) !== 1) throw new Error('lease lapsed');
        return Date.now() - since > 2 * LOCK_MS;
      },
      4 * LOCK_MS,
    );
    expect((await ctx.locks.acquire(project, randomUUID(), KIND)) as object).not.toHaveProperty(
      'release',
    );
    await lease.release();
    expect(await ctx.raw.exists(ctx.leaseKey(project))).toBe(0);
  });

  it("a dead run's lease: taken at once by the same job, waited out by another", async () => {
    const project = randomUUID();
    const job = randomUUID();
    // Written as a run on a worker that died would have left it.
    await ctx.raw.set(ctx.leaseKey(project), `${job}:dead-run`, 'PX', LOCK_MS);
    const other = await ctx.waiter(project);
    expect(other.busy.lapsesInMs).toBeGreaterThan(0);
    expect(other.busy.lapsesInMs).toBeLessThanOrEqual(LOCK_MS + 100);

    const recovered = leaseOf(await ctx.locks.acquire(project, job, KIND));
    expect(await ctx.raw.get(ctx.leaseKey(project))).toMatch(new RegExp(`^${job}:`));
    await recovered.release();
    expect(await ctx.raw.exists(ctx.leaseKey(project))).toBe(0);
    expect(await ctx.state(other.id)).toBe('waiting');
  });

  it("a stale release of an earlier run of the job leaves the later run's lease alone", async () => {
    const project = randomUUID();
    const job = randomUUID();
    const first = leaseOf(await ctx.locks.acquire(project, job, KIND));
    const second = leaseOf(await ctx.locks.acquire(project, job, KIND));
    await first.release();
    expect(await ctx.raw.exists(ctx.leaseKey(project))).toBe(1);
    await second.release();
    expect(await ctx.raw.exists(ctx.leaseKey(project))).toBe(0);
  });

  it("a step runs inside its ancestor's lease and leaves it to the ancestor", async () => {
    const project = randomUUID();
    const [grandparent, parent] = [randomUUID(), randomUUID()];
    const held = leaseOf(await ctx.locks.acquire(project, grandparent, KIND));
    const value = await ctx.raw.get(ctx.leaseKey(project));
    expect(busyOf(await ctx.locks.acquire(project, randomUUID(), KIND))).toBeDefined();
    const step = leaseOf(
      await ctx.locks.acquire(project, randomUUID(), KIND, [parent, grandparent]),
    );
    expect(await ctx.raw.get(ctx.leaseKey(project))).toBe(value);
    await step.release();
    expect(await ctx.raw.get(ctx.leaseKey(project))).toBe(value);
    await held.release();
    expect(await ctx.raw.exists(ctx.leaseKey(project))).toBe(0);
  });

  it('a parent handed back while its step runs leaves the step its lease, and its next run takes it over', async () => {
    const project = randomUUID();
    const parent = randomUUID();
    const held = leaseOf(await ctx.locks.acquire(project, parent, KIND));
    const value = await ctx.raw.get(ctx.leaseKey(project));
    const step = leaseOf(await ctx.locks.acquire(project, randomUUID(), KIND, [parent]));
    held.leave();
    const since = Date.now();
    await waitFor(
      'two lease lifetimes to pass with the step keeping the lease',
      async () => {
        if ((await ctx.raw.get(ctx.leaseKey(project))) !== value) throw new Error('lease lost');
        return Date.now() - since > 2 * LOCK_MS;
      },
      4 * LOCK_MS,
    );
    expect(busyOf(await ctx.locks.acquire(project, randomUUID(), KIND))).toBeDefined();
    const next = leaseOf(await ctx.locks.acquire(project, parent, KIND));
    await step.release();
    await next.release();
    expect(await ctx.raw.exists(ctx.leaseKey(project))).toBe(0);
  });

  it('a release promotes the first waiter still delayed, skipping removed ones, and keeps the others waiting', async () => {
    const project = randomUUID();
    const lease = leaseOf(await ctx.locks.acquire(project, randomUUID(), KIND));
    const cancelled = await ctx.waiter(project);
    const first = await ctx.waiter(project);
    const second = await ctx.waiter(project);
    expect(cancelled.busy.lapsesInMs).not.toBeNull();
    expect(first.busy.lapsesInMs).toBeNull();
    expect(second.busy.lapsesInMs).toBeNull();
    await ctx.queue.remove(cancelled.id);

    await lease.release();
    expect(await ctx.state(first.id)).toBe('waiting');
    expect(await ctx.state(second.id)).toBe('delayed');

    // The promoted job takes the lease and leaves the waiters; its release wakes the next one.
    const next = leaseOf(await ctx.locks.acquire(project, first.id, KIND));
    await next.release();
    expect(await ctx.state(second.id)).toBe('waiting');
  });

  it('a waiter whose job is gone leaves the set when another asks, and the next is first', async () => {
    const project = randomUUID();
    const lease = leaseOf(await ctx.locks.acquire(project, randomUUID(), KIND));
    const cancelled = await ctx.waiter(project);
    const next = await ctx.waiter(project);
    expect(next.busy.lapsesInMs).toBeNull();
    await ctx.queue.remove(cancelled.id);

    const again = busyOf(await ctx.locks.acquire(project, next.id, KIND));
    expect(again.lapsesInMs).toBeGreaterThan(0);
    const { waiters } = workspaceLeaseKeys(ctx.stack.prefix, project);
    expect(await ctx.raw.zrange(waiters, 0, -1)).toEqual([`${KIND}:${next.id}`]);
    await lease.release();
  });

  it('a job that found the workspace busy wakes the waiters itself when the lease was freed meanwhile', async () => {
    const project = randomUUID();
    await ctx.raw.set(ctx.leaseKey(project), `${randomUUID()}:other-run`, 'PX', LOCK_MS);
    const late = await ctx.waiter(project);
    await ctx.raw.del(ctx.leaseKey(project));
    await ctx.locks.waiting(project);
    expect(await ctx.state(late.id)).toBe('waiting');
  });
});

/**
 * The release itself fails: Redis dies with the release in flight, or is down when it is
 * attempted. The lease key survives in the append-only file, so only a retried release frees it
 * before its TTL (JOB_LOCK_MS = 60 s here), and the retry wakes the waiter too.
 */
describe('workspace release while Redis is away (private redis-server)', () => {
  const LOCK_MS = 60_000;
  const FREED_BOUND_MS = 30_000;
  let server: RedisServer;
  let dir: string;
  let ctx: Awaited<ReturnType<typeof open>> | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'conveyor-ws-lock-redis-'));
    server = new RedisServer(await freePort(), { appendOnlyDir: dir });
    await server.start();
    ctx = await open('ws-lock-down', server.url, LOCK_MS);
  });

  afterAll(async () => {
    if (server && !server.running) await server.start().catch(() => undefined);
    await ctx?.close();
    await server?.stop('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  function use(): NonNullable<typeof ctx> {
    if (!ctx) throw new Error('stack did not start');
    return ctx;
  }

  async function freedAndWoken(project: string, waiterId: string, releasedAt: number) {
    const { raw, leaseKey, state } = use();
    await waitFor(
      'the lease to be freed and the waiter promoted',
      async () =>
        (await raw.exists(leaseKey(project))) === 0 && (await state(waiterId)) === 'waiting',
      FREED_BOUND_MS,
      100,
    );
    const freedMs = Date.now() - releasedAt;
    console.log(
      `workspace release retried after Redis came back: freed ${freedMs} ms after the release`,
    );
    expect(freedMs).toBeLessThan(LOCK_MS);
  }

  it('Redis killed with the release in flight: the release is retried once Redis is back', async () => {
    const { locks, waiter, raw } = use();
    const project = randomUUID();
    const lease = leaseOf(await locks.acquire(project, randomUUID(), KIND));
    const waiting = await waiter(project);

    await raw.call('CLIENT', 'PAUSE', '30000', 'WRITE');
    const releasedAt = Date.now();
    const released = lease.release();
    await waitFor('the release to be held by the paused server', async () => {
      const clients = String(await raw.call('CLIENT', 'LIST'));
      return clients
        .split('\n')
        .some((line) => /name=conveyor-command .*flags=b.* cmd=eval/.test(line));
    });
    await server.stop('SIGKILL');
    await released;

    await server.start();
    await freedAndWoken(project, waiting.id, releasedAt);
  });

  it('Redis down when the release is attempted: the release is retried once Redis is back', async () => {
    const { locks, waiter } = use();
    const project = randomUUID();
    const lease = leaseOf(await locks.acquire(project, randomUUID(), KIND));
    const waiting = await waiter(project);

    await server.stop('SIGKILL');
    const releasedAt = Date.now();
    await lease.release();

    await server.start();
    await freedAndWoken(project, waiting.id, releasedAt);
  });
});
