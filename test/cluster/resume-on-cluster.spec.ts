import type { Server } from 'node:http';
import { Injectable } from '@nestjs/common';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CallToolResultSchema,
  CreateTaskResultSchema,
  ProgressNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { IsString, MaxLength } from 'class-validator';
import { defineJobKind, type JobContext, type JobProcessor } from '../../src/core/job.types';
import { Api, uniqueUser } from '../support/api';
import { startStack, tokenFor, type TestStack } from '../support/app';
import {
  expectStrictlyIncreasing,
  payloadsOf,
  polledEvents,
  waitForTerminal,
} from '../support/realtime';
import { useTestCluster } from '../support/redis';
import { RedisCluster } from '../support/redis-cluster';
import { baseUrl, connectSocket, type TestSocket } from '../support/socket';
import { echoKind } from '../support/test-kinds';
import { waitFor } from '../support/wait';

class WaiterParams {
  @IsString()
  @MaxLength(100)
  label!: string;
}

/** Job ids whose processor saw its AbortSignal fire. */
const aborted = new Set<string>();

/** Runs until it is cancelled: reports once, then waits on its signal. */
@Injectable()
class WaiterProcessor implements JobProcessor<WaiterParams, null> {
  async process(ctx: JobContext<WaiterParams>): Promise<null> {
    await ctx.progress(10, `waiting: ${ctx.params.label}`);
    await new Promise<void>((resolve) => {
      if (ctx.signal.aborted) resolve();
      ctx.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    aborted.add(ctx.jobId);
    return null;
  }
}

const waiterKind = defineJobKind({
  name: 'waiter',
  params: WaiterParams,
  processor: WaiterProcessor,
});

/** Resuming where a client left off, over MCP and Socket.IO, with the events kept in a cluster. */
describe('MCP and Socket.IO resume on a Redis Cluster', () => {
  let cluster: RedisCluster;
  let stack: TestStack;
  let url: string;
  let mcpUrl: URL;
  const clients: Client[] = [];
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    cluster = await RedisCluster.start();
    useTestCluster(cluster.nodeList);
    stack = await startStack('cluster-resume', [echoKind, waiterKind], {
      MCP_TASK_POLL_INTERVAL_MS: '100',
    });
    url = baseUrl(stack.app.getHttpServer() as Server);
    mcpUrl = new URL('/mcp', url);
  });

  afterAll(async () => {
    sockets.forEach((s) => s.close());
    await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
    await stack?.close();
    await cluster?.stop();
  });

  function transportFor(
    user: string,
    options: ConstructorParameters<typeof StreamableHTTPClientTransport>[1] = {},
  ): StreamableHTTPClientTransport {
    return new StreamableHTTPClientTransport(mcpUrl, {
      requestInit: { headers: { Authorization: `Bearer ${tokenFor(user)}` } },
      ...options,
    });
  }

  async function connect(
    user: string,
  ): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
    const client = new Client({ name: 'conveyor-cluster-test', version: '1.0.0' });
    const transport = transportFor(user);
    await client.connect(transport);
    clients.push(client);
    return { client, transport };
  }

  async function open(user: string, lastEventId?: string): Promise<TestSocket> {
    const socket = await connectSocket(url, {
      token: tokenFor(user),
      ...(lastEventId !== undefined && { lastEventId }),
    });
    sockets.push(socket);
    return socket;
  }

  it('MCP: a call whose transport closed resumes with Last-Event-ID, no progress missing or repeated', async () => {
    const user = uniqueUser('mcp-resume');
    const first = await connect(user);
    const sessionId = first.transport.sessionId!;
    const seen: number[] = [];
    let lastEventId: string | undefined;
    const params = {
      name: 'echo',
      arguments: { projectId: 'p1', text: 'resume me', steps: 6, stepMs: 150 },
    };
    const pending = first.client.request({ method: 'tools/call', params }, CallToolResultSchema, {
      onprogress: (p) => seen.push(p.progress),
      onresumptiontoken: (token) => (lastEventId = token),
    });
    pending.catch(() => undefined);
    await waitFor('two progress notifications', () => Promise.resolve(seen.length >= 2));
    await first.transport.close();
    const before = seen.length;

    const client = new Client({ name: 'conveyor-cluster-test', version: '1.0.0' });
    clients.push(client);
    const resumed: number[] = [];
    client.setNotificationHandler(ProgressNotificationSchema, (n) => {
      resumed.push(n.params.progress);
    });
    await client.connect(transportFor(user, { sessionId }));
    const result = await client.request({ method: 'tools/call', params }, CallToolResultSchema, {
      resumptionToken: lastEventId,
    });
    expect(result.structuredContent).toMatchObject({
      status: 'done',
      result: { text: 'resume me' },
    });
    expect(seen.slice(0, before).concat(resumed)).toEqual([0, 14, 28, 42, 57, 71, 85]);
    expect(await new Api(stack, user).listAll({ kind: 'echo' })).toHaveLength(1);
  });

  it('MCP tasks: created, polled to its result, listed; a running one cancelled', async () => {
    const user = uniqueUser('mcp-tasks');
    const api = new Api(stack, user);
    const { client } = await connect(user);
    const created = await client.request(
      {
        method: 'tools/call',
        params: {
          name: 'echo',
          arguments: { projectId: 'p1', text: 'as a task', steps: 2, stepMs: 50 },
          task: { ttl: 120_000 },
        },
      },
      CreateTaskResultSchema,
    );
    const { taskId } = created.task;
    expect(created.task).toMatchObject({ status: 'working', ttl: 120_000, pollInterval: 100 });
    await waitFor('the task to complete', async () => {
      const task = await client.experimental.tasks.getTask(taskId);
      return task.status === 'completed' ? task : undefined;
    });
    const result = await client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema);
    expect(result.structuredContent).toMatchObject({ jobId: taskId, status: 'done' });
    expect((await client.experimental.tasks.listTasks()).tasks.map((t) => t.taskId)).toContain(
      taskId,
    );

    const waiting = await client.request(
      {
        method: 'tools/call',
        params: { name: 'waiter', arguments: { projectId: 'p1', label: 'task' }, task: {} },
      },
      CreateTaskResultSchema,
    );
    const waitingId = waiting.task.taskId;
    await api.waitForStatus(waitingId, ['processing']);
    expect((await client.experimental.tasks.cancelTask(waitingId)).status).toBe('cancelled');
    expect(await api.waitForStatus(waitingId)).toMatchObject({ status: 'cancelled' });
    await waitFor('the processor to see its signal', () => Promise.resolve(aborted.has(waitingId)));
    const cancelled = await client.experimental.tasks.getTaskResult(
      waitingId,
      CallToolResultSchema,
    );
    expect(cancelled.isError).toBe(true);
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
