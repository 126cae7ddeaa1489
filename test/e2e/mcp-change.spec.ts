import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CallToolResultSchema,
  CreateTaskResultSchema,
  type CallToolResult,
  type Progress,
} from '@modelcontextprotocol/sdk/types.js';
import { JOB_KINDS } from '../../src/job-kinds';
import type { ChangeResult } from '../../src/kinds/change/change.result';
import { Api, uniqueUser } from '../support/api';
import { startStack, tokenFor, type TestStack } from '../support/app';
import { startFakeLlm, type FakeLlmServer } from '../support/fake-llm/fake-llm-server';
import { makeBareRepo } from '../support/fixture-repos';
import { parsePrometheus, sampleValue } from '../support/prometheus';
import { createReadyProject } from '../support/projects';
import { baseUrl } from '../support/socket';
import { waitFor } from '../support/wait';

const METRICS_TOKEN = 'scrape-token-for-mcp-change-tests';
const TESTS = `const test = require('node:test');
const assert = require('node:assert');
const sum = require('../src/sum');
test('adds', () => assert.strictEqual(sum(2, 3), 5));
test('identity', () => assert.strictEqual(sum(7, 0), 7));
`;

/** Rewrites src/sum.js: subtracting fails `adds` only, adding passes both. */
function answer(body: string): string[] {
  return [`Here it is.\n<file path="src/sum.js">\n`, `${body}\n</file>\n`];
}
const SUBTRACT = answer('module.exports = (a, b) => a - b;');
const ADD = answer('module.exports = (a, b) => a + b;');

/** What the change reports, in order, when it goes green on its second of three iterations. */
const STEPS = [
  'iteration 1 of 3: generating',
  'iteration 1 of 3: testing',
  'iteration 1 of 3: tests: 1 passed, 1 failed',
  'iteration 2 of 3: generating',
  'iteration 2 of 3: testing',
  'iteration 2 of 3: tests: 2 passed, 0 failed',
];

interface Structured {
  jobId: string;
  status: string;
  result?: ChangeResult;
  error?: string;
}

function expectGreenOnSecond(structured: Structured): void {
  expect(structured).toMatchObject({
    status: 'done',
    result: { outcome: 'passed', stopReason: 'passed', filesChanged: ['src/sum.js'] },
  });
  expect(structured.result!.iterations.map((iteration) => iteration.failing)).toEqual([
    ['adds'],
    [],
  ]);
}

/** The messages name the steps in order, and progress grows with every notification. */
function expectSteps(progress: Progress[]): void {
  const values = progress.map((p) => p.progress);
  values.slice(1).forEach((value, i) => expect(value).toBeGreaterThan(values[i]));
  expect(progress.every((p) => p.total === 100)).toBe(true);
  const messages = progress.map((p) => p.message);
  expect(messages.filter((message) => message?.startsWith('iteration '))).toEqual(STEPS);
}

describe('the change tool over MCP (e2e)', () => {
  let dir: string;
  let llm: FakeLlmServer;
  let stack: TestStack;
  let url: URL;
  let repo = 0;
  const clients: Client[] = [];
  /** The change jobs this file ran, with their owner: the metrics must count them. */
  const ran: { api: Api; jobId: string }[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'conveyor-mcp-change-'));
    llm = await startFakeLlm('openai-chat', { tokens: ADD });
    // The first prompt gets a wrong answer; the fix prompt (it quotes the failure) the right one.
    llm.respond((request) => {
      const prompt = JSON.stringify(request.body.messages ?? []);
      return { tokens: prompt.includes('do not pass the tests yet') ? ADD : SUBTRACT };
    });
    stack = await startStack('mcp-change', JOB_KINDS, {
      ALLOW_LOCAL_REPOS: 'true',
      LLM_PROVIDERS: 'openai-compatible',
      OPENAI_COMPATIBLE_BASE_URL: llm.baseURL,
      OPENAI_COMPATIBLE_MODEL: 'fake-model',
      MCP_TASK_POLL_INTERVAL_MS: '100',
      METRICS_TOKEN,
    });
    url = new URL('/mcp', baseUrl(stack.app.getHttpServer() as Server));
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
    await stack?.close();
    await llm?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A fresh file:// repository whose sum.js is unwritten and whose tests are committed. */
  async function project(api: Api): Promise<string> {
    repo += 1;
    const bare = makeBareRepo(dir, `widgets${repo}`, {
      'package.json': '{ "name": "widgets", "private": true }\n',
      'src/sum.js': "module.exports = () => { throw new Error('not written yet'); };\n",
      'test/sum.test.js': TESTS,
    });
    return createReadyProject(api, `widgets${repo}`, `file://${bare}`);
  }

  /** A client whose standalone GET stream (where a task's notifications go) is known to be open. */
  async function connect(user: string): Promise<Client> {
    let standalone = false;
    const client = new Client({ name: 'conveyor-test', version: '1.0.0' });
    clients.push(client);
    await client.connect(
      new StreamableHTTPClientTransport(url, {
        requestInit: { headers: { Authorization: `Bearer ${tokenFor(user)}` } },
        fetch: async (input, init) => {
          const res = await fetch(input, init);
          if (init?.method === 'GET' && res.ok) standalone = true;
          return res;
        },
      }),
    );
    await waitFor('the standalone GET stream', () => Promise.resolve(standalone));
    return client;
  }

  /** A user with a fresh project and a connected client, and the change tool call to make. */
  async function caller(label: string) {
    const api = new Api(stack, uniqueUser(label));
    const projectId = await project(api);
    const client = await connect(api.user);
    const call = {
      name: 'change',
      arguments: { projectId, prompt: 'Write src/sum.js', testCommand: 'node --test' },
    };
    return { api, client, call };
  }

  it('calls change with a progressToken: green on the second iteration, each step named', async () => {
    const { api, client, call } = await caller('mcp-change');
    const progress: Progress[] = [];
    const result = (await client.callTool(call, CallToolResultSchema, {
      onprogress: (p) => progress.push(p),
      resetTimeoutOnProgress: true,
      timeout: 120_000,
    })) as CallToolResult;
    expect(result.isError).toBe(false);
    const structured = result.structuredContent as unknown as Structured;
    ran.push({ api, jobId: structured.jobId });
    expectGreenOnSecond(structured);
    expectSteps(progress);

    // The tool's job is the REST one, its steps child jobs like any change's.
    expect(await api.job(structured.jobId)).toMatchObject({ kind: 'change', status: 'done' });
    const steps = await api.listAll({ parentId: structured.jobId });
    expect(steps.map((step) => step.kind).sort()).toEqual([
      'code-generation',
      'code-generation',
      'test-execution',
      'test-execution',
    ]);
  });

  it('runs change as a task: progress names the steps, tasks/result is the outcome', async () => {
    const { api, client, call } = await caller('mcp-change-task');
    const progress: Progress[] = [];
    const created = await client.request(
      {
        method: 'tools/call',
        params: { ...call, task: { ttl: 300_000 } },
      },
      CreateTaskResultSchema,
      { onprogress: (p) => progress.push(p) },
    );
    const { taskId } = created.task;
    ran.push({ api, jobId: taskId });
    expect(created.task).toMatchObject({ status: 'working', pollInterval: 100 });
    expect((await api.job(taskId)).kind).toBe('change');
    await waitFor('the task to complete', async () => {
      const task = await client.experimental.tasks.getTask(taskId);
      if (task.status === 'failed' || task.status === 'cancelled') {
        throw new Error(`task ended ${task.status}: ${task.statusMessage ?? ''}`);
      }
      return task.status === 'completed';
    });
    const result = await client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema);
    expect(result.isError).toBe(false);
    const structured = result.structuredContent as unknown as Structured;
    expect(structured.jobId).toBe(taskId);
    expectGreenOnSecond(structured);
    // The last step's notification precedes the done event that completes the task.
    await waitFor('the last step on the standalone stream', () =>
      Promise.resolve(progress.some((p) => p.message === STEPS[STEPS.length - 1])),
    );
    expectSteps(progress);
  });

  it('counts the change jobs in GET /metrics like any kind', async () => {
    const ended = await Promise.all(ran.map(({ api, jobId }) => api.waitForStatus(jobId)));
    const done = ended.filter((job) => job.status === 'done').length;
    expect(done).toBeGreaterThan(0);
    const samples = await waitFor('every ended change to be counted', async () => {
      const res = await stack
        .http()
        .get('/metrics')
        .set('Authorization', `Bearer ${METRICS_TOKEN}`)
        .expect(200);
      const scraped = parsePrometheus(res.text);
      const counted = sampleValue(scraped, 'conveyor_jobs_total', {
        kind: 'change',
        status: 'done',
      });
      return counted === done ? scraped : undefined;
    });
    expect(sampleValue(samples, 'conveyor_job_duration_seconds_count', { kind: 'change' })).toBe(
      ended.length,
    );
  });
});
