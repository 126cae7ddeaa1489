import type { Server } from 'node:http';
import Redis, { Cluster } from 'ioredis';
import type { ExternalStatusCounters } from '../../src/realtime/external-status.service';
import { AdminApi, Api, uniqueUser } from '../support/api';
import { startStack, tokenFor, type TestStack } from '../support/app';
import {
  popJobItem,
  rebalanceAgentNames,
  sendAgentReports,
  sendStreamReports,
  type JsonJobItem,
} from '../support/external-worker';
import { payloadsOf } from '../support/realtime';
import { useTestCluster } from '../support/redis';
import { RedisCluster } from '../support/redis-cluster';
import { baseUrl, openSocket, waitForJobEvent, type TestSocket } from '../support/socket';
import { echoKind } from '../support/test-kinds';
import { waitFor } from '../support/wait';

const { list: REBALANCE_LIST, channel: REBALANCE_CHANNEL } = rebalanceAgentNames();

/**
 * External workers on a Redis Cluster: they are separate programs with their own cluster
 * client, pulling job items from a kind's list and reporting with classic PUBLISH.
 */
describe('external workers on a Redis Cluster', () => {
  let cluster: RedisCluster;
  let stack: TestStack;
  let url: string;
  let admin: AdminApi;
  /**
   * The external worker's connections: a cluster client for its lists (keys), and one connection
   * to one node for its reports: a cluster client sends each keyless PUBLISH to a random node,
   * and classic pub/sub keeps order only per publishing node (docs/external-workers.md).
   */
  let popper: Cluster;
  let publisher: Redis;
  const sockets: TestSocket[] = [];

  function workerClient(): Cluster {
    const nodes = cluster.nodes.map(({ port }) => ({ host: '127.0.0.1', port }));
    return new Cluster(nodes, { redisOptions: { maxRetriesPerRequest: 1 } });
  }

  beforeAll(async () => {
    cluster = await RedisCluster.start();
    useTestCluster(cluster.nodeList);
    stack = await startStack('cluster-external', [echoKind], {
      EXTERNAL_KINDS: 'spin-up,rebalance',
      EXTERNAL_REBALANCE_ITEM: 'id',
      EXTERNAL_REBALANCE_LIST: REBALANCE_LIST,
      EXTERNAL_REBALANCE_STATUS_CHANNEL: REBALANCE_CHANNEL,
    });
    url = baseUrl(stack.app.getHttpServer() as Server);
    admin = new AdminApi(stack);
    popper = workerClient();
    const [node] = await cluster.masterPorts();
    publisher = new Redis(node, '127.0.0.1', { maxRetriesPerRequest: 1 });
    // Conveyor's own workers never take an echo job here: only the status channel moves them.
    expect(await admin.pause('echo')).toMatchObject({ kind: 'echo', paused: true });
  });

  afterAll(async () => {
    sockets.forEach((s) => s.close());
    await popper?.del(REBALANCE_LIST);
    popper?.disconnect();
    publisher?.disconnect();
    await stack?.close();
    await cluster?.stop();
  });

  async function counters(): Promise<ExternalStatusCounters> {
    const res = await admin.get('/admin/external-status');
    expect(res.status).toBe(200);
    return res.body as ExternalStatusCounters;
  }

  async function owner(label: string): Promise<{ api: Api; socket: TestSocket }> {
    const api = new Api(stack, uniqueUser(label));
    return { api, socket: await openSocket(url, tokenFor(api.user), sockets) };
  }

  function eventsOf(socket: TestSocket, jobId: string): [string, number, string | undefined][] {
    return socket.events
      .filter((e) => e.jobId === jobId)
      .map((e) => [e.name, e.progress, e.message]);
  }

  it('a list worker pulls the JSON job item and reports progress and the end on its streamId', async () => {
    const { api, socket } = await owner('stream');
    const job = await api.submitOk('spin-up', { name: 'shop' });
    const item = JSON.parse(
      await popJobItem(popper, `${stack.prefix}:external:spin-up`),
    ) as JsonJobItem;
    expect(item).toMatchObject({
      jobId: job.id,
      streamId: `${stack.prefix}:stream:${job.id}`,
      user_id: api.user,
      toolName: 'spin-up',
      params: { name: 'shop' },
    });
    await sendStreamReports(publisher, item.streamId, false);

    await waitForJobEvent(socket, job.id, 'spin-up:done');
    expect(eventsOf(socket, job.id)).toEqual([
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
  });

  it('an agent pops the bare id from its own list and reports on its own status channel', async () => {
    const { api, socket } = await owner('agent');
    const job = await api.submitOk('rebalance', { amount: 1000 });
    const jobId = await popJobItem(popper, REBALANCE_LIST);
    expect(jobId).toBe(job.id);
    await sendAgentReports(publisher, REBALANCE_CHANNEL, { jobId, userId: api.user });
    await waitForJobEvent(socket, job.id, 'rebalance:done');
    expect(eventsOf(socket, job.id).map(([name]) => name)).toEqual([
      'rebalance:created',
      'rebalance:processing',
      'rebalance:done',
    ]);
    expect(await api.job(job.id)).toMatchObject({ status: 'done', progress: 100, attempts: 1 });
  });

  it('a status publisher drives a job to done with PUBLISH on <prefix>:status only', async () => {
    const { api, socket } = await owner('status');
    const job = await api.submitOk('echo', { text: 'external' });
    expect(job.status).toBe('queued');
    const before = await counters();
    const channel = `${stack.prefix}:status`;
    const publish = (message: object) => publisher.publish(channel, JSON.stringify(message));
    await publish({ jobId: job.id, status: 'processing' });
    await publish({ jobId: job.id, status: 'progress', progress: 30, message: 'cloning' });
    await publish({ jobId: job.id, status: 'progress', progress: 70, message: 'testing' });
    await publish({ jobId: job.id, status: 'done', result: { passed: 12, failed: 0 } });

    await waitForJobEvent(socket, job.id, 'echo:done');
    // Reports of one job published back to back, each awaited, are all taken, none dropped.
    const counted = (c: ExternalStatusCounters) =>
      c.accepted + Object.values(c.dropped).reduce((sum, n) => sum + n, 0);
    const after = await waitFor('the 4 reports to be counted', async () => {
      const now = await counters();
      return counted(now) === counted(before) + 4 ? now : undefined;
    });
    expect(after).toEqual({ accepted: before.accepted + 4, dropped: before.dropped });
    expect(eventsOf(socket, job.id)).toEqual([
      ['echo:created', 0, 'queued'],
      ['echo:processing', 0, 'attempt 1 of 3 started'],
      ['echo:progress', 30, 'cloning'],
      ['echo:progress', 70, 'testing'],
      ['echo:done', 100, 'done'],
    ]);
    expect(payloadsOf(socket.events)).toEqual(await api.allEvents(job.id));
    expect(await api.job(job.id)).toMatchObject({
      status: 'done',
      result: { passed: 12, failed: 0 },
      attempts: 1,
    });
    expect(await admin.stats('echo')).toMatchObject({ paused: true, waiting: 0, active: 0 });
  });
});
