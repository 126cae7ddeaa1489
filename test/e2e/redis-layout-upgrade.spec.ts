import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { getQueueToken } from '@nestjs/bullmq';
import type { INestApplicationContext } from '@nestjs/common';
import { Queue, Worker } from 'bullmq';
import Redis from 'ioredis';
import { createConveyor } from '../../src/app.factory';
import { JobLifecycleService } from '../../src/core/job-lifecycle.service';
import { redisOptionsFromUrl } from '../../src/redis/redis-options';
import { Api, uniqueUser, type JobBody } from '../support/api';
import { startStack, testConfig, type TestStack } from '../support/app';
import { ConveyorProcess, killAllConveyors } from '../support/conveyor-process';
import { TEST_REDIS_URL } from '../support/redis';
import { echoKind } from '../support/test-kinds';
import { waitFor } from '../support/wait';

const KIND = echoKind.name;
const CLI = resolve(__dirname, '../../src/cli/redis-upgrade.ts');
const FINISH_BOUND_MS = 60_000;

interface OldState {
  api: Api;
  waiting: JobBody[];
  prioritized: JobBody;
  delayed: JobBody;
  /** When the delayed entry is due, as BullMQ scored it. */
  delayedDue: number;
  /** Taken by a worker of the previous version that died: its lock has lapsed. */
  active: JobBody;
  all: JobBody[];
}

/**
 * A deployment upgraded from the single-prefix layout (BullMQ's prefix QUEUE_PREFIX for every
 * kind) to the tagged one loses no job: the workers' start, or `npm run redis:upgrade`, moves the
 * waiting, prioritized, delayed and orphaned active jobs, and the old queue's keys go. The state
 * is what the previous version wrote: the same row at submit, its entry under the old prefix.
 */
describe('upgrade from the single-prefix queue layout', () => {
  let stack: TestStack;
  let redis: Redis;
  let oldQueue: Queue;
  let newQueue: Queue;
  let worker: INestApplicationContext | undefined;
  let dataDir: string;
  const connection = () => redisOptionsFromUrl(TEST_REDIS_URL);

  beforeAll(async () => {
    // No worker yet: the API enqueues, nothing runs until the upgraded workers start.
    stack = await startStack('layout', [echoKind], { APP_ROLE: 'api' });
    redis = new Redis(TEST_REDIS_URL);
    oldQueue = new Queue(KIND, { connection: connection(), prefix: stack.prefix });
    newQueue = stack.app.get<Queue>(getQueueToken(KIND), { strict: false });
    dataDir = await mkdtemp(join(tmpdir(), 'conveyor-layout-'));
  });

  afterAll(async () => {
    await killAllConveyors();
    await worker?.close();
    await oldQueue?.close();
    redis?.disconnect();
    await stack?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  /** Moves a submitted job's entry to the old prefix, as the previous version had added it. */
  async function rewind(job: JobBody, how: { priority?: boolean; delay?: number }): Promise<void> {
    const entry = await waitFor(`entry of ${job.id}`, () => newQueue.getJob(job.id));
    expect(await newQueue.remove(job.id)).toBe(1);
    const { attempts, backoff, removeOnComplete, removeOnFail } = entry.opts;
    await oldQueue.add(entry.name, entry.data, {
      jobId: job.id,
      attempts,
      backoff,
      removeOnComplete,
      removeOnFail,
      ...(how.priority && { priority: entry.priority }),
      ...(how.delay !== undefined && { delay: how.delay }),
    });
  }

  async function oldState(label: string): Promise<OldState> {
    const api = new Api(stack, uniqueUser(label));
    const submit = (text: string) => api.submitOk(KIND, { text: `${label} ${text}` });

    const active = await submit('active');
    await rewind(active, { priority: true });
    const dead = new Worker(KIND, null, {
      connection: connection(),
      prefix: stack.prefix,
      lockDuration: 1000,
      autorun: false,
    });
    const taken = await dead.getNextJob(randomUUID(), { block: false });
    expect(taken?.id).toBe(active.id);
    await stack.app.get(JobLifecycleService).apply(active.id, { type: 'processing', attempt: 1 });
    await dead.close(true);

    const waiting = [await submit('waiting 1'), await submit('waiting 2')];
    for (const job of waiting) await rewind(job, { priority: false });
    const prioritized = await submit('prioritized');
    await rewind(prioritized, { priority: true });
    // A workspace-busy retry of the previous version: its row still queued.
    const delayed = await submit('delayed');
    await rewind(delayed, { priority: true, delay: 4000 });
    const score = await redis.zscore(`${stack.prefix}:${KIND}:delayed`, delayed.id);
    const delayedDue = Math.floor(Number(score) / 0x1000);

    expect(await oldQueue.getJobCounts('wait', 'prioritized', 'delayed', 'active')).toEqual({
      wait: 2,
      prioritized: 1,
      delayed: 1,
      active: 1,
    });
    await waitFor('the dead worker lock to lapse', async () => {
      return (await redis.exists(`${stack.prefix}:${KIND}:${active.id}:lock`)) === 0;
    });
    const all = [...waiting, prioritized, delayed, active];
    for (const job of all) {
      expect((await api.job(job.id)).status).toBe(job === active ? 'processing' : 'queued');
    }
    return { api, waiting, prioritized, delayed, delayedDue, active, all };
  }

  async function expectAllDone(state: OldState): Promise<void> {
    for (const job of state.all) {
      expect(await state.api.waitForStatus(job.id, undefined, FINISH_BOUND_MS)).toMatchObject({
        status: 'done',
        attempts: job.id === state.active.id ? 2 : 1,
      });
    }
  }

  /** A worker-role Conveyor of the new version on the same database and prefix. */
  async function startWorker(): Promise<void> {
    worker = await createConveyor(
      testConfig({
        APP_ROLE: 'worker',
        DATABASE_URL: stack.db.url,
        QUEUE_PREFIX: stack.prefix,
        DATA_DIR: dataDir,
      }),
      [echoKind],
    );
  }

  async function stopWorker(): Promise<void> {
    await worker?.close();
    worker = undefined;
  }

  async function oldKeys(): Promise<string[]> {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${stack.prefix}:${KIND}:*`);
      cursor = next;
      keys.push(...found);
    } while (cursor !== '0');
    return keys;
  }

  it("a worker's start moves every job of the old layout, and each one finishes", async () => {
    const state = await oldState('start');

    await startWorker();

    const moved = await newQueue.getJob(state.delayed.id);
    expect(moved?.opts.delay).toBeGreaterThan(0);
    const due = (moved?.timestamp ?? 0) + (moved?.opts.delay ?? 0);
    expect(due).toBeGreaterThanOrEqual(state.delayedDue);
    expect(due).toBeLessThan(state.delayedDue + 5000);
    expect(await oldKeys()).toEqual([]);

    await expectAllDone(state);
    const events = await state.api.allEvents(state.active.id);
    expect(events.filter((e) => e.status === 'processing').map((e) => e.message)).toEqual([
      'attempt 1 of 3 started',
      'attempt 2 of 3 started: recovered, attempt 1 was lost with its worker',
    ]);
    expect(await oldKeys()).toEqual([]);
    await stopWorker();
  }, 120_000);

  it('npm run redis:upgrade moves them once and says what it moved; a second run finds none', async () => {
    const state = await oldState('cli');
    const env = { REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: stack.prefix, LOG_LEVEL: 'silent' };

    const first = new ConveyorProcess('redis:upgrade', env, CLI);
    expect({ exit: await first.exited, stderr: first.stderr }).toEqual({
      exit: { code: 0, signal: null },
      stderr: '',
    });
    expect(first.stdout.trim()).toBe(
      `${KIND}: moved 2 waiting, 1 prioritized, 1 delayed, 1 active; old queue deleted`,
    );
    expect(await oldKeys()).toEqual([]);
    expect(await newQueue.getJobCounts('wait', 'prioritized', 'delayed', 'active')).toEqual({
      wait: 2,
      prioritized: 2,
      delayed: 1,
      active: 0,
    });

    const second = new ConveyorProcess('redis:upgrade again', env, CLI);
    expect(await second.exited).toEqual({ code: 0, signal: null });
    expect(second.stdout.trim()).toBe(
      `no queue under "${stack.prefix}" in the single-prefix layout`,
    );

    await startWorker();
    await expectAllDone(state);
    await stopWorker();
  }, 120_000);

  it('an active job whose worker still holds its lock waits for a later run', async () => {
    const api = new Api(stack, uniqueUser('held'));
    const running = await api.submitOk(KIND, { text: 'held running' });
    await rewind(running, { priority: true });
    const alive = new Worker(KIND, null, {
      connection: connection(),
      prefix: stack.prefix,
      lockDuration: 600_000,
      autorun: false,
    });
    expect((await alive.getNextJob(randomUUID(), { block: false }))?.id).toBe(running.id);
    await alive.close(true);
    await stack.app.get(JobLifecycleService).apply(running.id, { type: 'processing', attempt: 1 });
    const queued = await api.submitOk(KIND, { text: 'held queued' });
    await rewind(queued, { priority: true });
    const env = { REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: stack.prefix, LOG_LEVEL: 'silent' };

    const first = new ConveyorProcess('redis:upgrade held', env, CLI);
    expect(await first.exited).toEqual({ code: 2, signal: null });
    expect(first.stdout.trim()).toBe(
      `${KIND}: moved 1 prioritized; 1 active job(s) locked by a running worker ` +
        `(${running.id}), moved once it stops`,
    );
    expect(await oldQueue.getJobState(running.id)).toBe('active');
    expect(await newQueue.getJobState(running.id)).toBe('unknown');

    // Its worker of the previous version stops: the lock goes, as when it lapses.
    await redis.del(`${stack.prefix}:${KIND}:${running.id}:lock`);
    const second = new ConveyorProcess('redis:upgrade after stop', env, CLI);
    expect(await second.exited).toEqual({ code: 0, signal: null });
    expect(second.stdout.trim()).toBe(`${KIND}: moved 1 active; old queue deleted`);
    expect(await oldKeys()).toEqual([]);

    await startWorker();
    expect(await api.waitForStatus(queued.id, undefined, FINISH_BOUND_MS)).toMatchObject({
      status: 'done',
      attempts: 1,
    });
    expect(await api.waitForStatus(running.id, undefined, FINISH_BOUND_MS)).toMatchObject({
      status: 'done',
      attempts: 2,
    });
    await stopWorker();
  }, 120_000);

  it('a run that died between adding a job to the new queue and removing it from the old is completed', async () => {
    const api = new Api(stack, uniqueUser('midway'));
    const job = await api.submitOk(KIND, { text: 'midway' });
    const entry = await waitFor(`entry of ${job.id}`, () => newQueue.getJob(job.id));
    // Its entry in both layouts, as the dead run left it.
    await oldQueue.add(entry.name, entry.data, { ...entry.opts, jobId: job.id });
    const env = { REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: stack.prefix, LOG_LEVEL: 'silent' };

    const cli = new ConveyorProcess('redis:upgrade midway', env, CLI);
    expect(await cli.exited).toEqual({ code: 0, signal: null });
    expect(cli.stdout.trim()).toBe(`${KIND}: moved 1 prioritized; old queue deleted`);
    expect(await oldKeys()).toEqual([]);
    expect(await newQueue.getJobCounts('wait', 'prioritized', 'delayed', 'active')).toEqual({
      wait: 0,
      prioritized: 1,
      delayed: 0,
      active: 0,
    });

    await startWorker();
    expect(await api.waitForStatus(job.id, undefined, FINISH_BOUND_MS)).toMatchObject({
      status: 'done',
      attempts: 1,
    });
    await stopWorker();
  }, 120_000);

  it('redis:upgrade fails with one line when Redis does not answer', async () => {
    const cli = new ConveyorProcess(
      'redis:upgrade unreachable',
      { REDIS_URL: 'redis://127.0.0.1:1', QUEUE_PREFIX: stack.prefix },
      CLI,
    );
    expect((await cli.exited).code).toBe(1);
    expect(cli.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^redis:upgrade failed: /),
    ]);
  }, 60_000);
});
