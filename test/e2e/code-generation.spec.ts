import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JOB_KINDS } from '../../src/job-kinds';
import { codeGenerationKind } from '../../src/kinds/code-generation/code-generation.kind';
import type { CodeGenerationResult } from '../../src/kinds/code-generation/code-generation.result';
import { startStack, tokenFor, type TestStack } from '../support/app';
import { Api, expectError, uniqueUser, type JobBody } from '../support/api';
import { startFakeLlm, type FakeLlmServer } from '../support/fake-llm/fake-llm-server';
import { makeBareRepo } from '../support/fixture-repos';
import { baseUrl, connectSocket, type TestSocket } from '../support/socket';
import { waitFor } from '../support/wait';

const KIND = 'code-generation';
/** The same kind under a short timeout, to see a timeout abort the provider's request. */
const SHORT_KIND = 'code-generation-short';
const ANTHROPIC_KEY = 'sk-ant-e2e-secret-key-1234';
const XAI_KEY = 'xai-e2e-secret-key-5678';
const OPENAI_KEY = 'sk-openai-e2e-secret-9012';
const GOOGLE_KEY = 'google-e2e-secret-3456';

const ANSWER = `I added a sum function and its test.

<file path="src/sum.js">
module.exports = (a, b) => a + b;
</file>

<file path="test/sum.test.js">
const test = require('node:test');
const assert = require('node:assert');
const sum = require('../src/sum');
test('adds', () => assert.strictEqual(sum(2, 3), 5));
test('adds negatives', () => assert.strictEqual(sum(-2, -3), -5));
</file>

<edit path="README.md">
<<<<<<< SEARCH
# fixture
=======
# fixture

Has a sum function.
>>>>>>> REPLACE
</edit>
`;

function chunks(text: string, size = 12): string[] {
  const out: string[] = [];
  for (let at = 0; at < text.length; at += size) out.push(text.slice(at, at + size));
  return out;
}

describe('code-generation (e2e: real stack, real SDK packages, loopback providers)', () => {
  let stack: TestStack;
  let api: Api;
  let socket: TestSocket;
  let anthropic: FakeLlmServer;
  let xai: FakeLlmServer;
  let openai: FakeLlmServer;
  let google: FakeLlmServer;
  let compatible: FakeLlmServer;
  let fixtures: string;
  let bare: string;
  const user = uniqueUser('codegen');

  beforeAll(async () => {
    anthropic = await startFakeLlm('anthropic', { tokens: chunks(ANSWER) });
    xai = await startFakeLlm('openai-chat', { tokens: chunks(ANSWER) });
    openai = await startFakeLlm('openai-responses', { tokens: chunks(ANSWER) });
    google = await startFakeLlm('gemini', { tokens: chunks(ANSWER) });
    compatible = await startFakeLlm('openai-chat', { tokens: chunks(ANSWER) });
    fixtures = mkdtempSync(join(tmpdir(), 'conveyor-codegen-fixtures-'));
    bare = makeBareRepo(fixtures, 'codegen', {
      'package.json': '{ "name": "fixture", "private": true }\n',
      'README.md': '# fixture\n',
      'src/existing.js': 'module.exports = 42;\n',
    });
    stack = await startStack(
      'codegen',
      [...JOB_KINDS, { ...codeGenerationKind, name: SHORT_KIND, policies: { timeoutMs: 1500 } }],
      {
        ALLOW_LOCAL_REPOS: 'true',
        LLM_PROVIDERS: 'anthropic,xai,openai,google,openai-compatible',
        ANTHROPIC_API_KEY: ANTHROPIC_KEY,
        ANTHROPIC_BASE_URL: anthropic.baseURL,
        ANTHROPIC_MODEL: 'claude-sonnet-4-5',
        XAI_API_KEY: XAI_KEY,
        XAI_BASE_URL: xai.baseURL,
        XAI_MODEL: 'grok-e2e',
        OPENAI_API_KEY: OPENAI_KEY,
        OPENAI_BASE_URL: openai.baseURL,
        GOOGLE_GENERATIVE_AI_API_KEY: GOOGLE_KEY,
        GOOGLE_GENERATIVE_AI_BASE_URL: google.baseURL,
        OPENAI_COMPATIBLE_BASE_URL: compatible.baseURL,
        OPENAI_COMPATIBLE_MODEL: 'local-e2e',
        LLM_CIRCUIT_FAILURES: '3',
        LLM_CIRCUIT_COOLDOWN_MS: '1500',
        JOB_BACKOFF_MS: '50',
      },
    );
    api = new Api(stack, user);
    socket = await connectSocket(baseUrl(stack.app.getHttpServer()), { token: tokenFor(user) });
  });

  afterAll(async () => {
    socket?.close();
    await stack?.close();
    await anthropic?.close();
    await xai?.close();
    await openai?.close();
    await google?.close();
    await compatible?.close();
    if (fixtures) rmSync(fixtures, { recursive: true, force: true });
  });

  async function project(): Promise<string> {
    const res = await api.post('/projects', { name: 'codegen', repoUrl: bare });
    expect({ status: res.status, body: res.body as unknown }).toMatchObject({ status: 201 });
    const id = (res.body as { id: string }).id;
    await waitFor(`project ${id} to be ready`, async () => {
      const body = (await api.get(`/projects/${id}`)).body as { status: string };
      if (body.status === 'error') throw new Error(`clone failed: ${JSON.stringify(body)}`);
      return body.status === 'ready';
    });
    return id;
  }

  const workspace = (projectId: string) => join(stack.config.workspacesDir, projectId);

  async function submit(projectId: string, params: object, kind = KIND): Promise<JobBody> {
    const res = await api.submit(kind, { projectId, params });
    expect({ status: res.status, body: res.body as unknown }).toMatchObject({ status: 202 });
    return res.body as JobBody;
  }

  function streamedOutput(jobId: string): string {
    return socket.events
      .filter((event) => event.jobId === jobId && event.output !== undefined)
      .map((event) => event.output)
      .join('');
  }

  function expectNoKeys(value: unknown): void {
    const text = JSON.stringify(value);
    expect(text).not.toContain(ANTHROPIC_KEY);
    for (const key of [XAI_KEY, OPENAI_KEY, GOOGLE_KEY]) expect(text).not.toContain(key);
  }

  it('GET /providers lists the configured providers in order, with health and no key', async () => {
    const res = await api.get('/providers');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      items: [
        {
          name: 'anthropic',
          defaultModel: 'claude-sonnet-4-5',
          health: 'closed',
          retryAt: null,
          order: 1,
        },
        { name: 'xai', defaultModel: 'grok-e2e', health: 'closed', retryAt: null, order: 2 },
        { name: 'openai', defaultModel: 'gpt-5', health: 'closed', retryAt: null, order: 3 },
        {
          name: 'google',
          defaultModel: 'gemini-2.5-pro',
          health: 'closed',
          retryAt: null,
          order: 4,
        },
        {
          name: 'openai-compatible',
          defaultModel: 'local-e2e',
          health: 'closed',
          retryAt: null,
          order: 5,
        },
      ],
    });
    expectNoKeys(res.body);
    expectError(await stack.http().get('/api/v1/providers'), 401);
  });

  it('streams the tokens live, writes the files, and a test-execution job runs the generated test', async () => {
    const projectId = await project();
    const job = await submit(projectId, {
      prompt: 'Write a sum function with a test',
      files: ['src/existing.js'],
      temperature: 0.1,
      maxOutputTokens: 2000,
      cache: false,
    });
    const done = await api.waitForStatus(job.id);
    expect(done).toMatchObject({ status: 'done', error: null });
    const result = done.result as unknown as CodeGenerationResult;
    expect(result).toMatchObject({
      provider: 'anthropic',
      model: 'claude-sonnet-4-5',
      text: ANSWER,
      applied: true,
      cached: false,
      failover: [],
      finishReason: 'stop',
      usage: { inputTokens: 11, outputTokens: chunks(ANSWER).length },
    });
    expect(result.files).toEqual([
      { path: 'src/sum.js', action: 'created', bytes: 34 },
      { path: 'test/sum.test.js', action: 'created', bytes: expect.any(Number) },
      {
        path: 'README.md',
        action: 'modified',
        bytes: Buffer.byteLength('# fixture\n\nHas a sum function.\n'),
      },
    ]);
    expect(result.timeToFirstTokenMs).toEqual(expect.any(Number));
    expect(result.durationMs).toBeGreaterThanOrEqual(result.timeToFirstTokenMs as number);
    // What the socket carried, concatenated, is exactly what the model streamed.
    await waitFor('the done event on the socket', async () =>
      socket.events.some((event) => event.jobId === job.id && event.status === 'done'),
    );
    expect(streamedOutput(job.id)).toBe(ANSWER);
    const log = await api.get(`/jobs/${job.id}/log`);
    expect(log.text).toContain(ANSWER);
    const dir = workspace(projectId);
    expect(readFileSync(join(dir, 'src/sum.js'), 'utf8')).toBe(
      'module.exports = (a, b) => a + b;\n',
    );
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toBe('# fixture\n\nHas a sum function.\n');
    // The request went out with the format prompt, the context file and the options.
    const sent = anthropic.requests.at(-1)!;
    expect(sent.headers['x-api-key']).toBe(ANTHROPIC_KEY);
    expect(JSON.stringify(sent.body.system)).toContain('<file path=');
    expect(JSON.stringify(sent.body.messages)).toContain('module.exports = 42;');
    expect(sent.body).toMatchObject({
      model: 'claude-sonnet-4-5',
      temperature: 0.1,
      max_tokens: 2000,
      stream: true,
    });
    expectNoKeys(done);
    expectNoKeys(await api.allEvents(job.id));

    const run = await api.submit('test-execution', {
      projectId,
      params: { testCommand: 'node --test', files: ['test/sum.test.js'] },
    });
    expect(run.status).toBe(202);
    const tested = await api.waitForStatus((run.body as JobBody).id, undefined, 60_000);
    expect(tested).toMatchObject({ status: 'done', result: { passed: 2, failed: 0 } });
  });

  it.each([
    ['anthropic', 'claude-sonnet-4-5'],
    ['xai', 'grok-e2e'],
    ['openai', 'gpt-5'],
    ['google', 'gemini-2.5-pro'],
    ['openai-compatible', 'local-e2e'],
  ])('%s: the answer streams live and its files are written', async (provider, model) => {
    const projectId = await project();
    const job = await submit(projectId, { prompt: `sum via ${provider}`, provider, cache: false });
    const done = await api.waitForStatus(job.id);
    expect(done).toMatchObject({
      status: 'done',
      result: { provider, model, text: ANSWER, failover: [] },
    });
    await waitFor('the done event on the socket', async () =>
      socket.events.some((event) => event.jobId === job.id && event.status === 'done'),
    );
    expect(streamedOutput(job.id)).toBe(ANSWER);
    expect(readFileSync(join(workspace(projectId), 'src/sum.js'), 'utf8')).toContain('a + b');
    expectNoKeys(done);
  });

  it('fails over from an overloaded provider and says so in the result', async () => {
    const projectId = await project();
    anthropic.reply({ status: 529, errorMessage: 'Overloaded' });
    const job = await submit(projectId, { prompt: 'sum, again', cache: false });
    const done = await api.waitForStatus(job.id);
    expect(done.status).toBe('done');
    expect(done.result).toMatchObject({
      provider: 'xai',
      model: 'grok-e2e',
      failover: [{ provider: 'anthropic', error: 'HTTP 529: Overloaded' }],
    });
    expect(xai.requests.at(-1)!.headers.authorization).toBe(`Bearer ${XAI_KEY}`);
  });

  it('a broken stream after the first token fails the attempt; the retry answers', async () => {
    const projectId = await project();
    anthropic.reply({ tokens: chunks(ANSWER), breakAfter: 3, breakWith: 'error-event' });
    const job = await submit(projectId, {
      prompt: 'sum, broken once',
      cache: false,
      provider: 'anthropic',
    });
    const done = await api.waitForStatus(job.id);
    expect(done).toMatchObject({
      status: 'done',
      attempts: 2,
      result: { provider: 'anthropic', failover: [] },
    });
    const events = await api.allEvents(job.id);
    expect(
      events.some((event) =>
        /attempt 1 of 3 failed: anthropic: overloaded_error/.test(event.message ?? ''),
      ),
    ).toBe(true);
  });

  it('answers an identical request from the cache, and applies its files all the same', async () => {
    const first = await project();
    const second = await project();
    const params = { prompt: 'cache me', files: ['src/existing.js'] };
    const one = await api.waitForStatus((await submit(first, params)).id);
    const before = anthropic.requests.length;
    const two = await api.waitForStatus((await submit(second, params)).id);
    expect(one.result).toMatchObject({ cached: false });
    expect(two.result).toMatchObject({ cached: true, text: ANSWER, files: expect.any(Array) });
    expect(anthropic.requests.length).toBe(before);
    expect(existsSync(join(workspace(second), 'test/sum.test.js'))).toBe(true);
  });

  it('writes nothing when one block of the answer escapes the workspace', async () => {
    const projectId = await project();
    const escaping = `<file path="src/ok.js">\nok\n</file>\n<file path="../../outside.txt">\nno\n</file>\n`;
    anthropic.reply({ tokens: chunks(escaping) });
    const job = await submit(projectId, { prompt: 'escape', cache: false, provider: 'anthropic' });
    const done = await api.waitForStatus(job.id);
    expect(done.status).toBe('error');
    expect(done.attempts).toBe(1);
    expect(done.error).toBe(
      'the answer cannot be applied: block 2: path "../../outside.txt" escapes the workspace; nothing was written',
    );
    expect(existsSync(join(workspace(projectId), 'src/ok.js'))).toBe(false);
    expect(existsSync(join(workspace(projectId), '../../outside.txt'))).toBe(false);
  });

  it('a 400 from the provider fails the job at once', async () => {
    const projectId = await project();
    anthropic.reply({ status: 400, errorMessage: 'prompt is too long' });
    const job = await submit(projectId, { prompt: 'too long', cache: false });
    const done = await api.waitForStatus(job.id);
    expect(done).toMatchObject({
      status: 'error',
      attempts: 1,
      error: 'anthropic: HTTP 400: prompt is too long',
    });
  });

  it('cancel mid-stream closes the connection to the provider', async () => {
    const projectId = await project();
    anthropic.reply({
      tokens: Array.from({ length: 400 }, (_, i) => `tok${i} `),
      tokenDelayMs: 30,
    });
    const closedBefore = anthropic.clientClosed;
    const job = await submit(projectId, {
      prompt: 'long answer',
      cache: false,
      provider: 'anthropic',
    });
    await waitFor('live tokens on the socket', async () =>
      streamedOutput(job.id).includes('tok3 '),
    );
    expect((await api.post(`/jobs/${job.id}/cancel`)).status).toBe(200);
    const ended = await api.waitForStatus(job.id);
    expect(ended.status).toBe('cancelled');
    await waitFor(
      'the provider to see its connection closed',
      async () => anthropic.clientClosed === closedBefore + 1,
    );
    expect(streamedOutput(job.id)).not.toContain('tok399');
  });

  it('a timeout aborts the provider request and fails the job', async () => {
    const projectId = await project();
    anthropic.reply({
      tokens: Array.from({ length: 400 }, (_, i) => `slow${i} `),
      tokenDelayMs: 50,
    });
    const closedBefore = anthropic.clientClosed;
    const job = await submit(
      projectId,
      { prompt: 'too slow', cache: false, provider: 'anthropic' },
      SHORT_KIND,
    );
    const ended = await api.waitForStatus(job.id);
    expect(ended).toMatchObject({ status: 'error', error: 'job timed out after 1500 ms' });
    await waitFor(
      'the provider to see its connection closed',
      async () => anthropic.clientClosed === closedBefore + 1,
    );
  });

  it('a provider failing again and again shows its circuit open, is skipped, then closes', async () => {
    const projectId = await project();
    xai.setDefault({ status: 503, errorMessage: 'down' });
    try {
      // Three attempts of one job: three failures in a row.
      const failed = await api.waitForStatus(
        (await submit(projectId, { prompt: 'down', provider: 'xai', cache: false })).id,
      );
      expect(failed).toMatchObject({ status: 'error', attempts: 3 });
      const providers = await api.get('/providers');
      expect(
        (providers.body as { items: { name: string; health: string; retryAt: string | null }[] })
          .items[1],
      ).toMatchObject({
        name: 'xai',
        health: 'open',
        retryAt: expect.any(String),
      });
      anthropic.reply({ status: 529, errorMessage: 'Overloaded' });
      const requestsBefore = xai.requests.length;
      const skipped = await api.waitForStatus(
        (await submit(projectId, { prompt: 'skip xai', cache: false })).id,
      );
      expect(skipped.result).toMatchObject({
        provider: 'openai',
        failover: [
          { provider: 'anthropic', error: 'HTTP 529: Overloaded' },
          {
            provider: 'xai',
            error: expect.stringMatching(/^skipped: circuit open after 3 failures in a row/),
          },
        ],
      });
      expect(xai.requests.length).toBe(requestsBefore);
    } finally {
      xai.setDefault({ tokens: chunks(ANSWER) });
    }
    await waitFor(
      'the circuit to let xai through again',
      async () => {
        const job = await api.waitForStatus(
          (await submit(projectId, { prompt: 'xai back', provider: 'xai', cache: false })).id,
        );
        return job.status === 'done';
      },
      15_000,
      300,
    );
    const after = await api.get('/providers');
    expect((after.body as { items: { health: string }[] }).items[1].health).toBe('closed');
  });

  describe('bad params answer 400 naming the field', () => {
    let projectId: string;
    beforeAll(async () => {
      projectId = await project();
    });

    it.each([
      ['no prompt', {}, /params\.prompt/],
      ['an empty prompt', { prompt: '' }, /params\.prompt/],
      ['a prompt over 100,000 chars', { prompt: 'x'.repeat(100_001) }, /params\.prompt/],
      [
        'an unknown provider',
        { prompt: 'x', provider: 'mistral' },
        /params\.provider must be one of/,
      ],
      [
        'a model without provider',
        { prompt: 'x', model: 'gpt-5' },
        /params\.model needs params\.provider/,
      ],
      [
        'a model with a space',
        { prompt: 'x', provider: 'anthropic', model: 'bad model' },
        /params\.model must be/,
      ],
      [
        'temperature 2.5',
        { prompt: 'x', temperature: 2.5 },
        /params\.temperature must not be greater than 2/,
      ],
      [
        'temperature -1',
        { prompt: 'x', temperature: -1 },
        /params\.temperature must not be less than 0/,
      ],
      [
        'maxOutputTokens 0',
        { prompt: 'x', maxOutputTokens: 0 },
        /params\.maxOutputTokens must not be less than 1/,
      ],
      [
        'maxOutputTokens 1.5',
        { prompt: 'x', maxOutputTokens: 1.5 },
        /params\.maxOutputTokens must be an integer/,
      ],
      ['apply "yes"', { prompt: 'x', apply: 'yes' }, /params\.apply must be a boolean/],
      ['cache 1', { prompt: 'x', cache: 1 }, /params\.cache must be a boolean/],
      [
        'files as a string',
        { prompt: 'x', files: 'src/existing.js' },
        /params\.files must be an array/,
      ],
      [
        '51 files',
        { prompt: 'x', files: Array(51).fill('src/existing.js') },
        /params\.files must contain no more than 50/,
      ],
      [
        'a file escaping',
        { prompt: 'x', files: ['../outside.js'] },
        /params\.files\.0 escapes the workspace/,
      ],
      [
        'an absolute file',
        { prompt: 'x', files: ['/etc/passwd'] },
        /params\.files\.0 must be relative/,
      ],
      [
        'a file in .git',
        { prompt: 'x', files: ['.git/config'] },
        /params\.files\.0 is inside \.git/,
      ],
      [
        'a missing file',
        { prompt: 'x', files: ['src/existing.js', 'nope.js'] },
        /params\.files\.1: nope\.js does not exist/,
      ],
      ['a directory', { prompt: 'x', files: ['src'] }, /params\.files\.0: src is not a file/],
      [
        'a key in params',
        { prompt: 'x', apiKey: 'k' },
        /params\.apiKey is not an allowed property/,
      ],
    ])('%s', async (_label, params, message) => {
      expectError(await api.submit(KIND, { projectId, params }), 400, message);
    });
  });
});
