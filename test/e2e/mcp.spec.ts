import { request as httpRequest, type Server } from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CallToolResultSchema,
  CreateTaskResultSchema,
  ErrorCode,
  McpError,
  ResultSchema,
  LoggingMessageNotificationSchema,
  TaskStatusNotificationSchema,
  type CallToolResult,
  type Progress,
} from '@modelcontextprotocol/sdk/types.js';
import Redis from 'ioredis';
import { JOB_KINDS } from '../../src/job-kinds';
import { Api, uniqueUser } from '../support/api';
import { startStack, tokenFor, type TestStack } from '../support/app';
import {
  abortedWaiters,
  createEchoTask,
  expectCallResumes,
  expectRunningTaskCancels,
  expectTaskCompletes,
  McpClients,
  waiterKind,
  type TransportOptions,
} from '../support/mcp';
import { TEST_REDIS_URL } from '../support/redis';
import { baseUrl } from '../support/socket';
import { echoKind } from '../support/test-kinds';
import { waitFor } from '../support/wait';

interface Structured {
  jobId: string;
  status: string;
  result?: Record<string, unknown>;
  error?: string;
}

function textOf(result: CallToolResult): string {
  const first = result.content[0];
  return first?.type === 'text' ? first.text : '';
}

describe('MCP over Streamable HTTP', () => {
  let stack: TestStack;
  let url: URL;
  let mcp: McpClients;

  beforeAll(async () => {
    stack = await startStack('mcp', [...JOB_KINDS, echoKind, waiterKind], {
      EXTERNAL_KINDS: 'spin-up',
      MCP_TASK_POLL_INTERVAL_MS: '100',
    });
    url = new URL('/mcp', baseUrl(stack.app.getHttpServer() as Server));
    mcp = new McpClients(url, 'conveyor-test');
  });

  afterAll(async () => {
    await mcp?.closeAll();
    await stack?.close();
  });

  function rawPost(
    headers: Record<string, string>,
    body: string,
  ): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        url,
        {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            ...headers,
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  const connect = (user: string, options?: TransportOptions) => mcp.connect(user, options);

  it('refuses a request without a valid token (401) and an unknown Host or Origin (403)', async () => {
    const client = new Client({ name: 'anonymous', version: '1.0.0' });
    await expect(client.connect(new StreamableHTTPClientTransport(url))).rejects.toThrow(/401/);

    const initialize = {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: {
        protocolVersion: '2025-11-25',
        capabilities: {},
        clientInfo: { name: 'x', version: '1' },
      },
    };
    const post = (headers: Record<string, string>) =>
      fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...headers,
        },
        body: JSON.stringify(initialize),
      });
    const noToken = await post({});
    expect(noToken.status).toBe(401);
    expect(noToken.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await noToken.json()).toEqual({
      statusCode: 401,
      error: 'Unauthorized',
      message: 'Authorization header with a Bearer token is required',
    });
    const badToken = await post({ authorization: 'Bearer not-a-jwt' });
    expect(badToken.status).toBe(401);
    expect(((await badToken.json()) as { message: string }).message).toBe('token is invalid');
    const auth = { authorization: `Bearer ${tokenFor('someone')}` };
    const evilOrigin = await post({ ...auth, origin: 'http://evil.example' });
    expect(evilOrigin.status).toBe(403);
    expect(((await evilOrigin.json()) as { message: string }).message).toMatch(
      /origin http:\/\/evil.example is not allowed/,
    );
    // fetch cannot set Host: a rebinding attacker's browser sends its own name there.
    const evilHost = await rawPost(
      { ...auth, host: 'evil.example:80' },
      JSON.stringify(initialize),
    );
    expect(evilHost.status).toBe(403);
    expect(evilHost.body).toMatch(/host evil.example:80 is not allowed/);
    const { transport } = await connect('someone');
    const badResume = await fetch(url, {
      headers: {
        ...auth,
        accept: 'text/event-stream',
        'mcp-session-id': transport.sessionId!,
        'last-event-id': '_GET_stream_1',
      },
    });
    expect(badResume.status).toBe(400);
    expect(((await badResume.json()) as { message: string }).message).toBe(
      'Last-Event-ID is not an event id this server sent',
    );
    const noSession = await fetch(url, {
      method: 'POST',
      headers: {
        ...auth,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
    });
    expect(noSession.status).toBe(400);
  });

  it("answers another user's session id with 404", async () => {
    const owner = uniqueUser('owner');
    const { transport } = await connect(owner);
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${tokenFor(uniqueUser('intruder'))}`,
        'mcp-session-id': transport.sessionId!,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list' }),
    });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ statusCode: 404, message: 'session not found' });

    // The owner ends it (DELETE): the id is then unknown to the owner too.
    const sessionId = transport.sessionId!;
    await transport.terminateSession();
    const after = await fetch(url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${tokenFor(owner)}`,
        'mcp-session-id': sessionId,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 10, method: 'tools/list' }),
    });
    expect(after.status).toBe(404);
  });

  it('lists one tool per kind (schemas from the params DTO), get_job, cancel_job and search_code', async () => {
    const { client } = await connect(uniqueUser('lister'));
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual([
      'cancel_job',
      'change',
      'code_generation',
      'echo',
      'get_job',
      'indexing',
      'pr_creation',
      'search_code',
      'spin_up',
      'test_execution',
      'waiter',
    ]);
    const tool = (name: string) => tools.find((candidate) => candidate.name === name)!;
    for (const kind of [...JOB_KINDS.map((k) => k.name), 'echo', 'waiter', 'spin-up']) {
      expect(tool(kind.replace(/-/g, '_'))).toMatchObject({
        title: kind,
        execution: { taskSupport: 'optional' },
      });
    }
    expect(tool('test_execution').inputSchema).toMatchObject({
      required: ['projectId', 'testCommand'],
      additionalProperties: false,
      properties: { priority: { enum: ['critical', 'high', 'medium', 'low'] } },
    });
    expect(tool('code_generation').inputSchema.required).toEqual(['projectId', 'prompt']);
    expect(tool('pr_creation').inputSchema.required).toEqual(
      expect.arrayContaining(['projectId', 'title', 'sourceBranch']),
    );
    expect(tool('indexing').inputSchema).toMatchObject({
      required: ['projectId'],
      properties: { fullReindex: { type: 'boolean' }, include: { type: 'array' } },
    });
    expect(tool('search_code')).toMatchObject({
      inputSchema: { required: ['projectId', 'q'], additionalProperties: false },
      annotations: { readOnlyHint: true },
    });
    expect(tool('search_code').execution).toBeUndefined();
    const echo = tools.find((tool) => tool.name === 'echo')!;
    expect(echo.execution).toEqual({ taskSupport: 'optional' });
    expect(echo.inputSchema.required).toEqual(['projectId', 'text']);
    expect(echo.inputSchema.properties).toMatchObject({
      projectId: { type: 'string' },
      priority: { enum: ['critical', 'high', 'medium', 'low'] },
      text: { type: 'string', maxLength: 1000 },
      steps: { type: 'integer', minimum: 0, maximum: 1000 },
      fail: { enum: ['until-last', 'always', 'fatal'] },
    });
    expect(echo.inputSchema.additionalProperties).toBe(false);
    const spinUp = tools.find((tool) => tool.name === 'spin_up')!;
    expect(spinUp.inputSchema).toMatchObject({
      required: ['projectId'],
      additionalProperties: true,
    });
    expect(tools.find((tool) => tool.name === 'get_job')!.inputSchema.required).toEqual(['jobId']);
  });

  it('runs a job to its end, with strictly increasing progress; the job is the REST one', async () => {
    const user = uniqueUser('caller');
    const { client } = await connect(user);
    const progress: Progress[] = [];
    const result = (await client.callTool(
      {
        name: 'echo',
        arguments: { projectId: 'p1', text: 'hello', steps: 4, stepMs: 30, priority: 'high' },
      },
      CallToolResultSchema,
      { onprogress: (p) => progress.push(p), resetTimeoutOnProgress: true },
    )) as CallToolResult;
    expect(result.isError).toBe(false);
    const structured = result.structuredContent as unknown as Structured;
    expect(structured).toMatchObject({ status: 'done', result: { text: 'hello', attempt: 1 } });
    expect(textOf(result)).toMatch(/^echo job .* done: /);
    expect(progress.map((p) => p.progress)).toEqual([0, 20, 40, 60, 80]);
    expect(progress.every((p) => p.total === 100)).toBe(true);
    expect(progress.map((p) => p.message)).toEqual([
      'attempt 1 of 3 started',
      'step 1',
      'step 2',
      'step 3',
      'step 4',
    ]);
    const job = await new Api(stack, user).job(structured.jobId);
    expect(job).toMatchObject({ kind: 'echo', status: 'done', priority: 'high', projectId: 'p1' });
    expect(job.requestId).not.toBeNull();

    const got = (await client.callTool({
      name: 'get_job',
      arguments: { jobId: job.id },
    })) as CallToolResult;
    expect(got.structuredContent).toMatchObject({ id: job.id, status: 'done' });
    const failed = (await client.callTool({
      name: 'echo',
      arguments: { projectId: 'p1', text: 'boom', fail: 'fatal' },
    })) as CallToolResult;
    expect(failed.isError).toBe(true);
    expect(failed.structuredContent).toMatchObject({ status: 'error', error: 'fatal: boom' });
    expect(textOf(failed)).toMatch(/failed: fatal: boom$/);
  });

  it('refuses bad arguments with the field and why, and unknown or foreign jobs as not found', async () => {
    const { client } = await connect(uniqueUser('bad'));
    const call = async (name: string, args: Record<string, unknown>) =>
      (await client.callTool({ name, arguments: args })) as CallToolResult;
    const noText = await call('echo', { projectId: 'p1' });
    expect(noText.isError).toBe(true);
    expect(textOf(noText)).toMatch(/^refused \(400\): .*params\.text must be a string/);
    expect(textOf(await call('echo', { text: 'x' }))).toMatch(/projectId must be a string/);
    expect(textOf(await call('echo', { projectId: 'p1', text: 'x', priority: 'urgent' }))).toMatch(
      /priority must be one of/,
    );
    expect(textOf(await call('echo', { projectId: 'p1', text: 'x', colour: 'red' }))).toMatch(
      /params\.colour is not an allowed property/,
    );
    expect(textOf(await call('get_job', {}))).toMatch(/^refused \(400\): jobId must be a job id/);
    const other = await new Api(stack, uniqueUser('other')).submitOk('echo', { text: 'mine' });
    expect(textOf(await call('get_job', { jobId: other.id }))).toMatch(/^refused \(404\)/);
    expect(textOf(await call('cancel_job', { jobId: other.id }))).toMatch(/^refused \(404\)/);
    await expect(call('nope', {})).rejects.toThrow(/unknown tool nope/);

    const theirs = await new Api(stack, uniqueUser('owner')).post('/projects', { name: 'theirs' });
    const theirProject = (theirs.body as { id: string }).id;
    const foreign = await call('test_execution', { projectId: theirProject, testCommand: 'true' });
    expect(foreign.isError).toBe(true);
    expect(textOf(foreign)).toMatch(/^refused \(404\): project .* not found/);
    expect(textOf(await call('indexing', { projectId: theirProject, include: 'src/**' }))).toMatch(
      /^refused \(400\): .*params\.include must be an array/,
    );
  });

  it('refuses malformed request params as InvalidParams naming the field, not InternalError', async () => {
    // Found by the fuzz tier: the SDK let its schema error out as -32603, a server fault.
    const { client } = await connect(uniqueUser('malformed'));
    const refused = async (request: { method: string; params?: Record<string, unknown> }) => {
      const error = await client.request(request, ResultSchema).then(
        () => undefined,
        (failure: unknown) => failure,
      );
      expect(error).toBeInstanceOf(McpError);
      return error as McpError;
    };
    for (const task of [undefined, { ttl: 60_000 }]) {
      const call = await refused({
        method: 'tools/call',
        params: { name: 'echo', arguments: 'x', ...(task && { task }) },
      });
      expect(call.code).toBe(ErrorCode.InvalidParams);
      expect(call.message).toMatch(/arguments/);
    }
    const level = await refused({ method: 'logging/setLevel', params: { level: 'loud' } });
    expect(level.code).toBe(ErrorCode.InvalidParams);
    expect(level.message).toMatch(/level/);
    const task = await refused({ method: 'tasks/get', params: { taskId: 42 } });
    expect(task.code).toBe(ErrorCode.InvalidParams);
    expect(task.message).toMatch(/taskId/);
    // The session is still there.
    expect((await client.listTools()).tools.length).toBeGreaterThan(0);
  });

  it('cancels the job when the call is cancelled: the worker sees its signal fire', async () => {
    const user = uniqueUser('canceller');
    const api = new Api(stack, user);
    const { client } = await connect(user);
    const controller = new AbortController();
    const progress: Progress[] = [];
    const call = client.callTool(
      { name: 'waiter', arguments: { projectId: 'p1', label: 'cancel me' } },
      CallToolResultSchema,
      { signal: controller.signal, onprogress: (p) => progress.push(p) },
    );
    call.catch(() => undefined);
    await waitFor('the waiter to report', () =>
      Promise.resolve(progress.some((p) => p.progress === 10)),
    );
    const [job] = await api.listAll({ kind: 'waiter' });
    controller.abort('changed my mind');
    await expect(call).rejects.toThrow();
    expect(await api.waitForStatus(job.id)).toMatchObject({ status: 'cancelled' });
    await waitFor('the processor to see its signal', () =>
      Promise.resolve(abortedWaiters.has(job.id)),
    );
  });

  it('runs a task: created, polled, its result, listed; cancelled; invisible to another user', async () => {
    const user = uniqueUser('tasker');
    const api = new Api(stack, user);
    const { client } = await connect(user);
    const statuses: string[] = [];
    client.setNotificationHandler(TaskStatusNotificationSchema, (n) => {
      statuses.push(`${n.params.taskId}:${n.params.status}`);
    });
    const taskId = await createEchoTask(client);
    expect((await api.job(taskId)).kind).toBe('echo');
    const done = await expectTaskCompletes(client, taskId);
    expect(done.taskId).toBe(taskId);
    await waitFor('the completed status notification', () =>
      Promise.resolve(statuses.includes(`${taskId}:completed`)),
    );

    const waitingId = await expectRunningTaskCancels(client, api);

    const brief = await client.request(
      {
        method: 'tools/call',
        params: {
          name: 'echo',
          arguments: { projectId: 'p1', text: 'brief' },
          task: { ttl: 1000 },
        },
      },
      CreateTaskResultSchema,
    );
    expect(brief.task.ttl).toBe(1000);
    await waitFor('the task to outlive its TTL', () =>
      client.experimental.tasks.getTask(brief.task.taskId).then(
        () => false,
        (error: Error) => /not found/i.test(error.message),
      ),
    );
    // The task is gone; its job stays.
    expect((await api.waitForStatus(brief.task.taskId)).status).toBe('done');

    const { client: stranger } = await connect(uniqueUser('stranger'));
    await expect(stranger.experimental.tasks.getTask(taskId)).rejects.toThrow(/not found/i);
    await expect(stranger.experimental.tasks.cancelTask(waitingId)).rejects.toThrow(/not found/i);
    expect((await stranger.experimental.tasks.listTasks()).tasks).toEqual([]);
  });

  it('resumes a call whose transport closed mid-call: no progress missing or repeated', async () => {
    await expectCallResumes(mcp, stack, uniqueUser('resumer'));
  });

  it("resumes the standalone GET stream with Last-Event-ID: a task's progress arrives whole", async () => {
    const user = uniqueUser('standalone');
    const gets: { lastEventId: string | null; abort: AbortController }[] = [];
    const recordingFetch = (input: string | URL | Request, init?: RequestInit) => {
      if (init?.method !== 'GET') return fetch(input, init);
      const abort = new AbortController();
      const headers = new Headers(init.headers);
      gets.push({ lastEventId: headers.get('last-event-id'), abort });
      const signal = init.signal ? AbortSignal.any([init.signal, abort.signal]) : abort.signal;
      return fetch(input, { ...init, signal });
    };
    const { client } = await connect(user, {
      fetch: recordingFetch,
      reconnectionOptions: {
        initialReconnectionDelay: 200,
        maxReconnectionDelay: 1000,
        reconnectionDelayGrowFactor: 1.5,
        maxRetries: 10,
      },
    });
    await waitFor('the standalone GET stream', () => Promise.resolve(gets.length === 1));
    const progress: number[] = [];
    const statuses: string[] = [];
    client.setNotificationHandler(TaskStatusNotificationSchema, (n) => {
      statuses.push(n.params.status);
    });
    const created = await client.request(
      {
        method: 'tools/call',
        params: {
          name: 'echo',
          arguments: { projectId: 'p1', text: 'standalone', steps: 6, stepMs: 150 },
          task: { ttl: 60_000 },
        },
      },
      CreateTaskResultSchema,
      { onprogress: (p) => progress.push(p.progress) },
    );
    await waitFor('progress on the standalone stream', () => Promise.resolve(progress.length >= 2));
    gets[0].abort.abort();
    await waitFor(
      'the task to finish',
      () => Promise.resolve(statuses.includes('completed')),
      20_000,
    );
    expect(gets.length).toBeGreaterThanOrEqual(2);
    expect(gets.slice(1).every((get) => get.lastEventId !== null)).toBe(true);
    expect(progress).toEqual([0, 14, 28, 42, 57, 71, 85]);
    expect((await new Api(stack, user).job(created.task.taskId)).status).toBe('done');
  });

  it('runs an external kind as a tool: a stream-channel worker answers in content / isError', async () => {
    const { client } = await connect(uniqueUser('external'));
    const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
    try {
      const worker = async (isError: boolean) => {
        const popped = await redis.brpop(`${stack.prefix}:external:spin-up`, 10);
        const item = JSON.parse(popped![1]) as { streamId: string; toolName: string };
        expect(item.toolName).toBe('spin-up');
        await redis.publish(
          item.streamId,
          JSON.stringify({ message: 'Half way done...', progress: 50 }),
        );
        await redis.publish(
          item.streamId,
          JSON.stringify({
            complete: true,
            content: isError ? 'it broke' : 'Project created!',
            isError,
          }),
        );
      };
      const logs: unknown[] = [];
      client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
        logs.push(n.params.data);
      });
      const progress: Progress[] = [];
      const [ok] = await Promise.all([
        client.callTool(
          { name: 'spin_up', arguments: { projectId: 'p1', name: 'shop' } },
          CallToolResultSchema,
          { onprogress: (p) => progress.push(p) },
        ),
        worker(false),
      ]);
      expect(ok.isError).toBe(false);
      expect(textOf(ok as CallToolResult)).toBe('Project created!');
      expect(progress.map((p) => [p.progress, p.message])).toEqual([
        [0, 'attempt 1 of 3 started'],
        [50, 'Half way done...'],
      ]);
      const [failed] = await Promise.all([
        client.callTool({ name: 'spin_up', arguments: { projectId: 'p1' } }),
        worker(true),
      ]);
      expect(failed.isError).toBe(true);
      expect(textOf(failed as CallToolResult)).toMatch(/failed: it broke$/);
      expect(logs).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });
});
