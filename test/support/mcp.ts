import { Injectable } from '@nestjs/common';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CallToolResultSchema,
  CreateTaskResultSchema,
  ProgressNotificationSchema,
  type GetTaskResult,
} from '@modelcontextprotocol/sdk/types.js';
import { IsString, MaxLength } from 'class-validator';
import { defineJobKind, type JobContext, type JobProcessor } from '../../src/core/job.types';
import { Api } from './api';
import { tokenFor, type TestStack } from './app';
import { waitFor } from './wait';

class WaiterParams {
  @IsString()
  @MaxLength(100)
  label!: string;
}

/** Job ids whose waiter processor saw its AbortSignal fire. */
export const abortedWaiters = new Set<string>();

/** Runs until it is cancelled: reports once, then waits on its signal. */
@Injectable()
class WaiterProcessor implements JobProcessor<WaiterParams, null> {
  async process(ctx: JobContext<WaiterParams>): Promise<null> {
    await ctx.progress(10, `waiting: ${ctx.params.label}`);
    await new Promise<void>((resolve) => {
      if (ctx.signal.aborted) resolve();
      ctx.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    abortedWaiters.add(ctx.jobId);
    return null;
  }
}

export const waiterKind = defineJobKind({
  name: 'waiter',
  params: WaiterParams,
  processor: WaiterProcessor,
});

export type TransportOptions = ConstructorParameters<typeof StreamableHTTPClientTransport>[1];

/** MCP clients of one endpoint, each with a user's token; all closed by closeAll (afterAll). */
export class McpClients {
  private readonly clients: Client[] = [];

  constructor(
    readonly url: URL,
    private readonly clientName: string,
  ) {}

  transportFor(user: string, options: TransportOptions = {}): StreamableHTTPClientTransport {
    return new StreamableHTTPClientTransport(this.url, {
      requestInit: { headers: { Authorization: `Bearer ${tokenFor(user)}` } },
      ...options,
    });
  }

  /** A client not yet connected, closed with the others. */
  client(): Client {
    const client = new Client({ name: this.clientName, version: '1.0.0' });
    this.clients.push(client);
    return client;
  }

  async connect(
    user: string,
    options?: TransportOptions,
  ): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
    const client = this.client();
    const transport = this.transportFor(user, options);
    await client.connect(transport);
    return { client, transport };
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.clients.map((client) => client.close().catch(() => undefined)));
  }
}

/**
 * A tools/call whose transport closes after two progress notifications, made again with its
 * Last-Event-ID from a new client of the same session: it ends done, with no progress missing or
 * repeated, and one job.
 */
export async function expectCallResumes(
  mcp: McpClients,
  stack: TestStack,
  user: string,
): Promise<void> {
  const first = await mcp.connect(user);
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

  const client = mcp.client();
  const resumed: number[] = [];
  client.setNotificationHandler(ProgressNotificationSchema, (n) => {
    resumed.push(n.params.progress);
  });
  await client.connect(mcp.transportFor(user, { sessionId }));
  const result = await client.request({ method: 'tools/call', params }, CallToolResultSchema, {
    resumptionToken: lastEventId,
    onresumptiontoken: (token) => (lastEventId = token),
  });
  expect(result.structuredContent).toMatchObject({
    status: 'done',
    result: { text: 'resume me' },
  });
  expect(seen.slice(0, before).concat(resumed)).toEqual([0, 14, 28, 42, 57, 71, 85]);
  // One job, though the call was made twice over the wire.
  expect(await new Api(stack, user).listAll({ kind: 'echo' })).toHaveLength(1);
}

/** Calls echo as a task with a 120 s TTL and checks the answer: working, polled every 100 ms. */
export async function createEchoTask(client: Client): Promise<string> {
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
  expect(created.task).toMatchObject({ status: 'working', ttl: 120_000, pollInterval: 100 });
  return created.task.taskId;
}

/** Polls the task to completed, then checks its result and that it is listed. */
export async function expectTaskCompletes(client: Client, taskId: string): Promise<GetTaskResult> {
  const done = await waitFor('the task to complete', async () => {
    const task = await client.experimental.tasks.getTask(taskId);
    return task.status === 'completed' ? task : undefined;
  });
  const result = await client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema);
  expect(result.structuredContent).toMatchObject({ jobId: taskId, status: 'done' });
  expect((await client.experimental.tasks.listTasks()).tasks.map((t) => t.taskId)).toContain(
    taskId,
  );
  return done;
}

/**
 * Calls the waiter as a task and cancels it once it runs: the task and its job end cancelled, the
 * processor sees its signal and the task's result is an error. The task's id.
 */
export async function expectRunningTaskCancels(client: Client, api: Api): Promise<string> {
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
  await waitFor('the processor to see its signal', () =>
    Promise.resolve(abortedWaiters.has(waitingId)),
  );
  const cancelled = await client.experimental.tasks.getTaskResult(waitingId, CallToolResultSchema);
  expect(cancelled.isError).toBe(true);
  return waitingId;
}
