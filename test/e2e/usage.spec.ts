import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { JOB_KINDS } from '../../src/job-kinds';
import type { ChangeResult } from '../../src/kinds/change/change.result';
import type { AdminUsageView, UsageView } from '../../src/http/dto/usage.view';
import { startStack, tokenFor, type TestStack } from '../support/app';
import { AdminApi, Api, bearer, expectError, uniqueUser, type JobBody } from '../support/api';
import { startFakeLlm, type FakeLlmServer } from '../support/fake-llm/fake-llm-server';
import { makeBareRepo } from '../support/fixture-repos';
import { createReadyProject } from '../support/projects';
import { parsePrometheus, sampleValue } from '../support/prometheus';
import { baseUrl } from '../support/socket';

/** Every answer of the loopback provider costs 40 input and 30 output tokens. */
const INPUT = 40;
const OUTPUT = 30;
/** Two generations (140 tokens) reach it; one (70) does not. */
const QUOTA = 100;
const MODEL = 'fake-usage-model';
const ANSWER = [
  'Here it is.\n<file path="src/sum.js">\n',
  'module.exports = (a, b) => a - b;\n</file>\n',
];
const FAILING_TESTS = `const test = require('node:test');
const assert = require('node:assert');
const sum = require('../src/sum');
test('adds', () => assert.strictEqual(sum(2, 3), 5));
`;

describe('token usage and the daily quota (e2e: PostgreSQL, Redis, a loopback provider)', () => {
  let stack: TestStack;
  let llm: FakeLlmServer;
  let fixtures: string;
  let repo = 0;
  const clients: Client[] = [];
  // alice's flow: usage recorded exactly, isolated from bob's, the admin's view, metrics, then
  // the quota (REST and MCP). The change's user is another (a day's quota of their own).
  let alice: Api;
  let bob: Api;

  beforeAll(async () => {
    llm = await startFakeLlm('openai-chat', {
      tokens: ANSWER,
      usage: { input: INPUT, output: OUTPUT },
    });
    fixtures = mkdtempSync(join(tmpdir(), 'conveyor-usage-'));
    stack = await startStack('usage', JOB_KINDS, {
      ALLOW_LOCAL_REPOS: 'true',
      LLM_PROVIDERS: 'openai-compatible',
      OPENAI_COMPATIBLE_BASE_URL: llm.baseURL,
      OPENAI_COMPATIBLE_MODEL: MODEL,
      TEST_SANDBOX: 'auto',
      USER_TOKEN_QUOTA_PER_DAY: String(QUOTA),
    });
    alice = new Api(stack, uniqueUser('alice'));
    bob = new Api(stack, uniqueUser('bob'));
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
    await stack?.close();
    await llm?.close();
    if (fixtures) rmSync(fixtures, { recursive: true, force: true });
  });

  async function project(api: Api): Promise<string> {
    repo += 1;
    const bare = makeBareRepo(fixtures, `usage${repo}`, {
      'package.json': '{ "name": "usage", "private": true }\n',
      'src/sum.js': "module.exports = () => { throw new Error('not written yet'); };\n",
      'test/sum.test.js': FAILING_TESTS,
    });
    return createReadyProject(api, `usage${repo}`, bare);
  }

  let prompts = 0;

  /** A generation with a prompt of its own: an answer from the cache spends no tokens. */
  async function generate(api: Api, projectId: string): Promise<JobBody> {
    prompts += 1;
    const params = { prompt: `write sum, take ${prompts}` };
    const res = await api.submit('code-generation', { projectId, params });
    expect({ status: res.status, body: res.body as unknown }).toMatchObject({ status: 202 });
    const job = await api.waitForStatus((res.body as JobBody).id);
    expect({ status: job.status, error: job.error }).toEqual({ status: 'done', error: null });
    return job;
  }

  async function usage(api: Api, query: Record<string, string> = {}): Promise<UsageView> {
    const res = await api.get('/usage').query(query);
    expect({ status: res.status, body: res.body as unknown }).toMatchObject({ status: 200 });
    return res.body as UsageView;
  }

  const today = () => new Date().toISOString().slice(0, 10);
  const totals = (input: number, output: number) => ({
    inputTokens: input,
    outputTokens: output,
    totalTokens: input + output,
  });

  /** Seconds from now to the next UTC midnight. */
  function toMidnight(): number {
    const now = Date.now();
    return Math.ceil((Math.floor(now / 86_400_000 + 1) * 86_400_000 - now) / 1000);
  }

  function expectRetryAfter(value: string | undefined): void {
    const seconds = Number(value);
    expect(Number.isInteger(seconds)).toBe(true);
    // Read just after the answer: the header's midnight is the one after the request.
    expect(seconds).toBeGreaterThanOrEqual(toMidnight() - 60);
    expect(seconds).toBeLessThanOrEqual(86_400);
  }

  it("records each generation's tokens for its user, provider and model, exactly", async () => {
    const projectId = await project(alice);
    const first = await generate(alice, projectId);
    expect(first.result).toMatchObject({
      provider: 'openai-compatible',
      model: MODEL,
      usage: { inputTokens: INPUT, outputTokens: OUTPUT },
    });
    await generate(alice, projectId);
    await generate(bob, await project(bob));

    const day = today();
    const mine = await usage(alice);
    const model = { provider: 'openai-compatible', model: MODEL };
    expect(mine).toEqual({
      from: new Date(Date.parse(day) - 29 * 86_400_000).toISOString().slice(0, 10),
      to: day,
      ...totals(2 * INPUT, 2 * OUTPUT),
      models: [{ ...model, ...totals(2 * INPUT, 2 * OUTPUT) }],
      days: [{ day, ...model, ...totals(2 * INPUT, 2 * OUTPUT) }],
    });
    expect(await usage(bob, { from: day, to: day })).toMatchObject({
      from: day,
      to: day,
      ...totals(INPUT, OUTPUT),
    });
    expect(await usage(new Api(stack, uniqueUser('nobody')))).toMatchObject({
      ...totals(0, 0),
      models: [],
      days: [],
    });
    expect(await usage(alice, { from: '2001-01-01', to: '2001-01-31' })).toMatchObject({
      ...totals(0, 0),
    });
  });

  it('answers every user’s usage to admins only', async () => {
    expectError(await alice.get('/admin/usage'), 403, /admin role/);
    const res = await new AdminApi(stack).get('/admin/usage').expect(200);
    const body = res.body as AdminUsageView;
    const byUser = new Map(body.users.map((user) => [user.userId, user]));
    expect(byUser.get(alice.user)).toMatchObject(totals(2 * INPUT, 2 * OUTPUT));
    expect(byUser.get(bob.user)).toMatchObject(totals(INPUT, OUTPUT));
  });

  it('refuses a bad from or to with a 400 naming the field', async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ from: 'yesterday' }, /^from must be a date/],
      [{ to: '2026-02-30' }, /^to must be a date/],
      [{ from: '2026-13-01' }, /^from must be a date/],
      [{ from: '2026-03-02', to: '2026-03-01' }, /^from must not be after to/],
      [{ from: '2020-01-01', to: '2026-01-01' }, /^from must be at most 366 days before to/],
    ];
    for (const [query, message] of cases) {
      expectError(await alice.get('/usage').query(query), 400, message);
      expectError(await new AdminApi(stack).get('/admin/usage').query(query), 400, message);
    }
  });

  it('counts the tokens in conveyor_llm_tokens_total by provider, model and direction', async () => {
    const res = await stack
      .http()
      .get('/metrics')
      .set('Authorization', bearer('ops', ['admin']));
    expect(res.status).toBe(200);
    const samples = parsePrometheus(res.text);
    const labels = { provider: 'openai-compatible', model: MODEL };
    expect({
      input: sampleValue(samples, 'conveyor_llm_tokens_total', { ...labels, direction: 'input' }),
      output: sampleValue(samples, 'conveyor_llm_tokens_total', { ...labels, direction: 'output' }),
    }).toEqual({ input: 3 * INPUT, output: 3 * OUTPUT });
  });

  it('refuses a generation or a change past the quota with 429 and Retry-After, on REST and MCP', async () => {
    // alice spent 140 of 100 tokens today; bob 70.
    const projectId = (await alice.listAll({ kind: 'code-generation' }))[0].projectId;
    for (const kind of ['code-generation', 'change']) {
      const res = await alice.submit(kind, { projectId, params: { prompt: 'more' } });
      expectError(res, 429, /daily token quota of 100 reached/);
      expectRetryAfter(res.headers['retry-after']);
    }
    // Other kinds are not held back by the quota.
    const other = await alice.submit('test-execution', {
      projectId,
      params: { testCommand: 'node --test' },
    });
    expect(other.status).toBe(202);

    const client = new Client({ name: 'usage-test', version: '1.0.0' });
    clients.push(client);
    const url = new URL('/mcp', baseUrl(stack.app.getHttpServer() as Server));
    await client.connect(
      new StreamableHTTPClientTransport(url, {
        requestInit: { headers: { Authorization: `Bearer ${tokenFor(alice.user)}` } },
      }),
    );
    const refused = (await client.callTool({
      name: 'code_generation',
      arguments: { projectId, prompt: 'more' },
    })) as CallToolResult;
    expect(refused.isError).toBe(true);
    expect(refused.content).toEqual([
      {
        type: 'text',
        text: expect.stringMatching(/^refused \(429\): daily token quota of 100 reached/) as string,
      },
    ]);
    expect(await alice.listAll({ kind: 'code-generation' })).toHaveLength(2);
    await alice.waitForStatus((other.body as JobBody).id);
  });

  it('lets a running change finish its generation past the quota but start no next one', async () => {
    const carol = new Api(stack, uniqueUser('carol'));
    const projectId = await project(carol);
    await generate(carol, projectId); // 70 tokens: under the quota, so the change is taken
    const res = await carol.submit('change', {
      projectId,
      params: { prompt: 'write sum', testCommand: 'node --test', maxIterations: 3 },
    });
    expect(res.status).toBe(202);
    const change = await carol.waitForStatus((res.body as JobBody).id, undefined, 120_000);
    expect({ status: change.status, error: change.error }).toEqual({ status: 'done', error: null });
    const result = change.result as unknown as ChangeResult;
    // Its first generation took the day to 140; the second was not started.
    expect(result).toMatchObject({
      stopReason: 'budget',
      outcome: 'tests-failing',
      usage: { inputTokens: INPUT, outputTokens: OUTPUT, totalTokens: INPUT + OUTPUT },
    });
    expect(result.iterations).toHaveLength(1);
    const steps = await carol.listAll({ parentId: change.id });
    expect(steps.map((step) => step.kind).sort()).toEqual(['code-generation', 'test-execution']);
    expect(await usage(carol, { from: today(), to: today() })).toMatchObject(
      totals(2 * INPUT, 2 * OUTPUT),
    );
  });
});
