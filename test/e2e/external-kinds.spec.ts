import type { Server } from 'node:http';
import Redis from 'ioredis';
import { AdminApi, Api, expectError, uniqueUser, type JobBody } from '../support/api';
import { startStack, tokenFor, type TestStack } from '../support/app';
import {
  popJobItem,
  rebalanceAgentNames,
  sendAgentReports,
  sendStreamReports,
  type JsonJobItem,
} from '../support/external-worker';
import { TEST_REDIS_URL } from '../support/redis';
import { baseUrl, openSocket, waitForJobEvent, type TestSocket } from '../support/socket';
import { echoKind } from '../support/test-kinds';
import { waitFor } from '../support/wait';

const { list: REBALANCE_LIST, channel: REBALANCE_CHANNEL } = rebalanceAgentNames();

describe('external kinds', () => {
  let stack: TestStack;
  let url: string;
  let admin: AdminApi;
  /** The external workers' connections: one blocking on lists, one publishing. */
  let popper: Redis;
  let publisher: Redis;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    stack = await startStack('extkinds', [echoKind], {
      EXTERNAL_KINDS: 'spin-up,rebalance,slow',
      EXTERNAL_REBALANCE_ITEM: 'id',
      EXTERNAL_REBALANCE_LIST: REBALANCE_LIST,
      EXTERNAL_REBALANCE_STATUS_CHANNEL: REBALANCE_CHANNEL,
      EXTERNAL_SLOW_TIMEOUT_MS: '1500',
    });
    url = baseUrl(stack.app.getHttpServer() as Server);
    admin = new AdminApi(stack);
    popper = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
    publisher = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
  });

  afterAll(async () => {
    sockets.forEach((s) => s.close());
    await publisher?.del(REBALANCE_LIST);
    popper?.disconnect();
    publisher?.disconnect();
    await stack?.close();
  });

  const listOf = (kind: string) => `${stack.prefix}:external:${kind}`;

  async function owner(label: string): Promise<{ api: Api; socket: TestSocket }> {
    const api = new Api(stack, uniqueUser(label));
    return { api, socket: await openSocket(url, tokenFor(api.user), sockets) };
  }

  function eventsOf(socket: TestSocket, jobId: string): string[] {
    return socket.events.filter((e) => e.jobId === jobId).map((e) => e.name);
  }

  /** An agent: BRPOP the bare id, PUBLISH the agent status format (and error). */
  async function agentWorker(userId: string, fail?: string): Promise<string> {
    const jobId = await popJobItem(popper, REBALANCE_LIST);
    const received = await sendAgentReports(publisher, REBALANCE_CHANNEL, { jobId, userId, fail });
    expect(received).toBeGreaterThanOrEqual(1);
    return jobId;
  }

  /** A JSON-item worker: the item from the list, progress then the final message on streamId. */
  async function streamWorker(isError: boolean): Promise<JsonJobItem> {
    const item = JSON.parse(await popJobItem(popper, listOf('spin-up'))) as JsonJobItem;
    expect(await sendStreamReports(publisher, item.streamId, isError)).toBeGreaterThanOrEqual(1);
    return item;
  }

  it('pushes the bare id and follows the agent to done and to error', async () => {
    const { api, socket } = await owner('agent');
    const job = await api.submitOk('rebalance', { amount: 1000 }, { priority: 'high' });
    expect(job).toMatchObject({ kind: 'rebalance', status: 'queued' });
    expect(await agentWorker(api.user)).toBe(job.id);
    await waitForJobEvent(socket, job.id, 'rebalance:done');
    expect(eventsOf(socket, job.id)).toEqual([
      'rebalance:created',
      'rebalance:processing',
      'rebalance:done',
    ]);
    expect(await api.job(job.id)).toMatchObject({ status: 'done', progress: 100, attempts: 1 });

    const failing = await api.submitOk('rebalance', { amount: 1 });
    expect(await agentWorker(api.user, 'Processing failed: insufficient balance')).toBe(failing.id);
    await waitForJobEvent(socket, failing.id, 'rebalance:error');
    expect(eventsOf(socket, failing.id)).toEqual([
      'rebalance:created',
      'rebalance:processing',
      'rebalance:error',
    ]);
    expect(await api.job(failing.id)).toMatchObject({
      status: 'error',
      error: 'Processing failed: insufficient balance',
    });
  });

  it('pushes the JSON job item and follows progress and the final message on streamId', async () => {
    const { api, socket } = await owner('stream');
    const job = await api.submitOk(
      'spin-up',
      { name: 'shop', stack: ['nest', 'prisma'] },
      { requestId: 'req_123' },
    );
    const item = await streamWorker(false);
    expect(item).toEqual({
      jobId: job.id,
      streamId: `${stack.prefix}:stream:${job.id}`,
      project_id: 'p1',
      user_id: api.user,
      request_id: 'req_123',
      toolName: 'spin-up',
      params: { name: 'shop', stack: ['nest', 'prisma'] },
    });
    await waitForJobEvent(socket, job.id, 'spin-up:done');
    expect(
      socket.events.filter((e) => e.jobId === job.id).map((e) => [e.name, e.progress, e.message]),
    ).toEqual([
      ['spin-up:created', 0, 'queued'],
      ['spin-up:processing', 0, 'attempt 1 of 3 started'],
      ['spin-up:progress', 0, 'Starting job...'],
      ['spin-up:progress', 50, 'Half way done...'],
      ['spin-up:done', 100, 'done'],
    ]);
    expect(await api.job(job.id)).toMatchObject({
      status: 'done',
      result: { content: 'Project created successfully!' },
    });

    const failing = await api.submitOk('spin-up', { name: 'broken' });
    expect((await streamWorker(true)).jobId).toBe(failing.id);
    await waitForJobEvent(socket, failing.id, 'spin-up:error');
    expect(eventsOf(socket, failing.id)).toEqual([
      'spin-up:created',
      'spin-up:processing',
      'spin-up:progress',
      'spin-up:progress',
      'spin-up:error',
    ]);
    expect(await api.job(failing.id)).toMatchObject({
      status: 'error',
      error: 'Failed to create project: disk full',
    });
  });

  it('ends a job no worker finishes within the timeout in error; a retry pushes it again', async () => {
    const { api, socket } = await owner('timeout');
    const job = await api.submitOk('slow', { n: 1 });
    expect(await publisher.lrange(listOf('slow'), 0, -1)).toHaveLength(1);
    const failed = await api.waitForStatus(job.id);
    expect(failed).toMatchObject({
      status: 'error',
      error: 'no external worker finished the job within 1500 ms',
    });
    expect(await publisher.llen(listOf('slow'))).toBe(0);

    const retried = await api.post(`/jobs/${job.id}/retry`);
    expect(retried.status).toBe(202);
    const item = JSON.parse(await popJobItem(popper, listOf('slow'))) as JsonJobItem;
    expect(item.jobId).toBe(job.id);
    await publisher.publish(item.streamId, JSON.stringify({ complete: true, content: 'late' }));
    await waitForJobEvent(socket, job.id, 'slow:done');
    expect(eventsOf(socket, job.id)).toEqual([
      'slow:created',
      'slow:error',
      'slow:created',
      'slow:processing',
      'slow:done',
    ]);
  });

  it('cancel removes a waiting item and publishes the cancellation', async () => {
    const listener = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
    const cancels: string[] = [];
    listener.on('message', (_channel: string, jobId: string) => cancels.push(jobId));
    await listener.subscribe(`${stack.prefix}:cancel`);
    try {
      const api = new Api(stack, uniqueUser('cancel'));
      const keep = await api.submitOk('spin-up', { name: 'keep' });
      const drop = await api.submitOk('spin-up', { name: 'drop' });
      const res = await api.post(`/jobs/${drop.id}/cancel`);
      expect((res.body as JobBody).status).toBe('cancelled');
      const items = (await publisher.lrange(listOf('spin-up'), 0, -1)).map(
        (raw) => (JSON.parse(raw) as JsonJobItem).jobId,
      );
      expect(items).toEqual([keep.id]);
      await waitFor('the cancellation on the cancel channel', () =>
        Promise.resolve(cancels.includes(drop.id)),
      );
      await api.post(`/jobs/${keep.id}/cancel`);
      expect(await publisher.llen(listOf('spin-up'))).toBe(0);
    } finally {
      listener.disconnect();
    }
  });

  it('appears in the admin stats; pause holds new jobs (their time stopped) until resume', async () => {
    const api = new Api(stack, uniqueUser('admin-ext'));
    const stats = (await admin.get('/admin/queues')).body as { kind: string }[];
    expect(stats.map((s) => s.kind).sort()).toEqual(['echo', 'rebalance', 'slow', 'spin-up']);
    expect(await admin.pause('rebalance')).toMatchObject({ paused: true, waiting: 0 });
    const held = await api.submitOk('rebalance', {});
    expect(await publisher.llen(REBALANCE_LIST)).toBe(0);
    expect(await admin.stats('rebalance')).toMatchObject({ paused: true, waiting: 1, active: 0 });
    expect(await admin.resume('rebalance')).toMatchObject({ paused: false, waiting: 1 });
    expect(await popJobItem(popper, REBALANCE_LIST)).toBe(held.id);
    expect(await admin.stats('rebalance')).toMatchObject({ waiting: 0, active: 1 });
    await publisher.publish(
      REBALANCE_CHANNEL,
      JSON.stringify({ jobId: held.id, status: 'done', userId: api.user }),
    );
    await api.waitForStatus(held.id);
    await waitFor('rebalance idle', async () => (await admin.stats('rebalance')).active === 0);
  });

  it("drops a report on a kind's status channel for a job of another kind", async () => {
    const api = new Api(stack, uniqueUser('wrongkind'));
    const job = await api.submitOk('spin-up', {});
    const before = (await admin.get('/admin/external-status')).body as {
      dropped: { invalid: number };
    };
    await publisher.publish(
      REBALANCE_CHANNEL,
      JSON.stringify({ jobId: job.id, status: 'done', userId: api.user }),
    );
    await waitFor('the report dropped as invalid', async () => {
      const now = (await admin.get('/admin/external-status')).body as {
        dropped: { invalid: number };
      };
      return now.dropped.invalid === before.dropped.invalid + 1;
    });
    expect((await api.job(job.id)).status).toBe('queued');
    await api.post(`/jobs/${job.id}/cancel`);
  });

  it('refuses params that are not a JSON object of at most 64 KiB, naming them', async () => {
    const api = new Api(stack, uniqueUser('badparams'));
    expectError(
      await api.submit('spin-up', { projectId: 'p1', params: ['a'] }),
      400,
      /params must be an object/,
    );
    expectError(
      await api.submit('spin-up', { projectId: 'p1', params: { blob: 'x'.repeat(70_000) } }),
      400,
      /params must be at most 65536 bytes of JSON \(got 70011\)/,
    );
    expect(await publisher.llen(listOf('spin-up'))).toBe(0);
  });
});
