import type { Server } from 'node:http';
import { Api, uniqueUser } from '../support/api';
import { startStack, tokenFor, type TestStack } from '../support/app';
import {
  createEchoTask,
  expectCallResumes,
  expectRunningTaskCancels,
  expectTaskCompletes,
  McpClients,
  waiterKind,
} from '../support/mcp';
import {
  expectStrictlyIncreasing,
  payloadsOf,
  polledEvents,
  waitForTerminal,
} from '../support/realtime';
import { useTestCluster } from '../support/redis';
import { RedisCluster } from '../support/redis-cluster';
import { baseUrl, openSocket, type TestSocket } from '../support/socket';
import { echoKind } from '../support/test-kinds';
import { waitFor } from '../support/wait';

/** Resuming where a client left off, over MCP and Socket.IO, with the events kept in a cluster. */
describe('MCP and Socket.IO resume on a Redis Cluster', () => {
  let cluster: RedisCluster;
  let stack: TestStack;
  let url: string;
  let mcp: McpClients;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    cluster = await RedisCluster.start();
    useTestCluster(cluster.nodeList);
    stack = await startStack('cluster-resume', [echoKind, waiterKind], {
      MCP_TASK_POLL_INTERVAL_MS: '100',
    });
    url = baseUrl(stack.app.getHttpServer() as Server);
    mcp = new McpClients(new URL('/mcp', url), 'conveyor-cluster-test');
  });

  afterAll(async () => {
    sockets.forEach((s) => s.close());
    await mcp?.closeAll();
    await stack?.close();
    await cluster?.stop();
  });

  const open = (user: string, lastEventId?: string): Promise<TestSocket> =>
    openSocket(url, tokenFor(user), sockets, lastEventId);

  it('MCP: a call whose transport closed resumes with Last-Event-ID, no progress missing or repeated', async () => {
    await expectCallResumes(mcp, stack, uniqueUser('mcp-resume'));
  });

  it('MCP tasks: created, polled to its result, listed; a running one cancelled', async () => {
    const user = uniqueUser('mcp-tasks');
    const api = new Api(stack, user);
    const { client } = await mcp.connect(user);
    const taskId = await createEchoTask(client);
    await expectTaskCompletes(client, taskId);
    await expectRunningTaskCancels(client, api);
  });

  it('Socket.IO: a client back with its cursor gets every event it missed, once, in order', async () => {
    const user = uniqueUser('socket-resume');
    const first = await open(user);
    const res = await stack
      .http()
      .post('/api/v1/jobs/echo')
      .set('Authorization', `Bearer ${tokenFor(user)}`)
      .send({ projectId: 'p1', params: { text: 'resume', steps: 12, stepMs: 50 } });
    expect(res.status).toBe(202);
    const jobId = (res.body as { id: string }).id;
    await waitFor('a few live events', () => Promise.resolve(first.events.length >= 3));
    first.close();
    const before = [...first.events];
    const lastSeen = before.at(-1)!.eventId;

    // The job goes on and ends while the client is away.
    await new Api(stack, user).waitForStatus(jobId);
    const missed = await polledEvents(url, user, jobId, lastSeen);
    expect(missed.length).toBeGreaterThan(0);

    const second = await open(user, lastSeen);
    await waitForTerminal(second, [jobId]);
    const full = await polledEvents(url, user, jobId);
    const union = [...payloadsOf(before), ...payloadsOf(second.events)];
    expect(second.events.some((e) => e.name === 'resync')).toBe(false);
    expect(union).toEqual(full);
    expectStrictlyIncreasing(union);
    expect(payloadsOf(second.events)).toEqual(missed);
  });
});
