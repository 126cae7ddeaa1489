import { join } from 'node:path';
import type { Cluster } from 'ioredis';
import { workspaceLeaseKeys } from '../../src/core/workspace-lock.service';
import { AdminApi, Api, uniqueUser, type JobBody } from '../support/api';
import { startStack, TEST_JWT_SECRET, type TestStack } from '../support/app';
import { ConveyorProcess, killAllConveyors } from '../support/conveyor-process';
import { testRedisClient, testRedisEnv, useTestCluster } from '../support/redis';
import { clusterSlotOf, RedisCluster } from '../support/redis-cluster';
import { echoKind } from '../support/test-kinds';
import { waitFor } from '../support/wait';
import { readJournal, workspaceEchoKind, type JournalEntry } from '../support/workspace-kinds';

const ENTRY = 'test/support/conveyor-workspace-main.ts';
const WS_KIND = workspaceEchoKind.name;
/** Enough projects that two of them almost surely have their leases on different masters. */
const MAX_PROJECTS = 12;

const leaseKey = (prefix: string, projectId: string) => workspaceLeaseKeys(prefix, projectId).lease;

/**
 * The api runs in this process, jobs in worker processes, all on one Redis Cluster: a cancel
 * reaches the worker running the job, and workspace leases whose keys live on different
 * masters serialize one project's jobs while other projects run.
 */
describe('api and worker processes on a Redis Cluster', () => {
  let cluster: RedisCluster;
  let stack: TestStack;
  let api: Api;
  let admin: AdminApi;
  let redis: Cluster;

  beforeAll(async () => {
    cluster = await RedisCluster.start();
    useTestCluster(cluster.nodeList);
    stack = await startStack('cluster-procs', [echoKind, workspaceEchoKind], { APP_ROLE: 'api' });
    api = new Api(stack, uniqueUser('cluster-procs'));
    admin = new AdminApi(stack);
    redis = testRedisClient() as Cluster;
  });

  afterAll(async () => {
    await killAllConveyors();
    redis?.disconnect();
    await stack?.close();
    await cluster?.stop();
  });

  /** A worker process: one job at a time, told about the cluster as the api is. */
  async function startWorker(label: string): Promise<ConveyorProcess> {
    const proc = new ConveyorProcess(
      label,
      {
        ...testRedisEnv(),
        APP_ROLE: 'worker',
        DATABASE_URL: stack.db.url,
        QUEUE_PREFIX: stack.prefix,
        JWT_SECRET: TEST_JWT_SECRET,
        DATA_DIR: stack.config.dataDir,
        WORKSPACES_DIR: stack.config.workspacesDir,
        LOG_LEVEL: 'warn',
        PROGRESS_INTERVAL_MS: '0',
        JOB_CONCURRENCY: '1',
      },
      ENTRY,
    );
    try {
      await proc.waitForReady();
    } catch (error) {
      await proc.kill();
      throw error;
    }
    return proc;
  }

  async function statuses(id: string): Promise<string[]> {
    return (await api.allEvents(id)).map((event) => event.status);
  }

  async function submit(kind: string, projectId: string, params: object): Promise<string> {
    const res = await api.submit(kind, { projectId, params });
    expect({ status: res.status, body: res.body as unknown }).toMatchObject({ status: 202 });
    return (res.body as JobBody).id;
  }

  async function project(name: string): Promise<string> {
    const res = await api.post('/projects', { name });
    expect(res.status).toBe(201);
    const id = (res.body as { id: string }).id;
    await waitFor(`project ${name} to be ready`, async () => {
      const body = (await api.get(`/projects/${id}`)).body as { status: string };
      return body.status === 'ready';
    });
    return id;
  }

  /** Runs never overlap in the journal: each start is ended by the same job before the next. */
  function expectExclusive(journal: JournalEntry[]): void {
    let open: JournalEntry | undefined;
    for (const entry of journal) {
      if (entry.event === 'start') {
        expect(open).toBeUndefined();
        open = entry;
      } else {
        expect(open).toMatchObject({ jobId: entry.jobId, pid: entry.pid });
        open = undefined;
      }
    }
    expect(open).toBeUndefined();
  }

  it('cancel from the api stops the running job in the worker process', async () => {
    await startWorker('worker A');
    const id = await submit('echo', 'p', { text: 'long', steps: 1000, stepMs: 20 });
    await waitFor('the job to report progress', async () =>
      (await statuses(id)).includes('progress'),
    );
    const cancelled = await api.post(`/jobs/${id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect((cancelled.body as JobBody).status).toBe('cancelled');
    const atCancel = await statuses(id);
    expect(atCancel.at(-1)).toBe('cancelled');

    // The single-slot worker finishing a later job shows the cancelled one let go of its slot.
    const next = await submit('echo', 'p', { text: 'after' });
    expect(await api.waitForStatus(next)).toMatchObject({ status: 'done' });
    expect(await statuses(id)).toEqual(atCancel);
    expect(await api.job(id)).toMatchObject({ status: 'cancelled', result: null });
  });

  it('workspace leases on different masters: one project serializes, another runs meanwhile', async () => {
    await startWorker('worker B');
    // Projects until two have their lease keys on different masters.
    const byMaster = new Map<number, string>();
    for (let i = 0; i < MAX_PROJECTS && byMaster.size < 2; i += 1) {
      const id = await project(`lease-${i}`);
      const master = await cluster.masterOfSlot(clusterSlotOf(leaseKey(stack.prefix, id)));
      if (!byMaster.has(master)) byMaster.set(master, id);
    }
    expect(byMaster.size).toBe(2);
    const [a, b] = [...byMaster.values()];

    const holder = await submit(WS_KIND, a, { text: 'hold', holdFirstRun: true });
    const holding = await api.waitForStatus(holder, ['processing', 'done', 'error', 'cancelled']);
    expect(holding).toMatchObject({ status: 'processing', error: null });
    // The lease is held under its key, on the master its slot maps to.
    expect(await redis.exists(leaseKey(stack.prefix, a))).toBe(1);

    const follower = await submit(WS_KIND, a, { text: 'follow' });
    const other = await submit(WS_KIND, b, { text: 'other' });
    expect(await api.waitForStatus(other)).toMatchObject({ status: 'done', error: null });
    // The other project ran while the holder kept project a's workspace; a's follower waits.
    await waitFor('the follower to wait for its workspace', async () => {
      const stats = await admin.stats(WS_KIND);
      return stats.delayed === 1;
    });
    expect(await api.job(holder)).toMatchObject({ status: 'processing' });
    expect(await api.job(follower)).not.toMatchObject({ status: 'done' });
    expect(readJournal(join(stack.config.workspacesDir, a)).map((e) => e.jobId)).toEqual([holder]);

    expect((await api.post(`/jobs/${holder}/cancel`)).status).toBe(200);
    expect(await api.waitForStatus(follower)).toMatchObject({ status: 'done', error: null });
    const journal = readJournal(join(stack.config.workspacesDir, a));
    expect(journal.map((e) => [e.event, e.jobId])).toEqual([
      ['start', holder],
      ['end', holder],
      ['start', follower],
      ['end', follower],
    ]);
    expectExclusive(journal);
    expect(readJournal(join(stack.config.workspacesDir, b)).map((e) => e.jobId)).toEqual([
      other,
      other,
    ]);
  });
});
