import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JOB_KINDS } from '../../src/job-kinds';
import type { ChangeResult } from '../../src/kinds/change/change.result';
import { startStack, TEST_JWT_SECRET, tokenFor, type TestStack } from '../support/app';
import { Api, expectError, uniqueUser, type JobBody } from '../support/api';
import { killAllConveyors, startConveyor } from '../support/conveyor-process';
import {
  startFakeLlm,
  type FakeLlmServer,
  type RecordedRequest,
} from '../support/fake-llm/fake-llm-server';
import { git, makeBareRepo } from '../support/fixture-repos';
import { GitHubApiServer } from '../support/github-api-server';
import { GitSmartHttpServer } from '../support/git-smart-http-server';
import { processesIn, waitNoProcesses } from '../support/processes';
import { createReadyProject } from '../support/projects';
import { expectStrictlyIncreasing } from '../support/realtime';
import { baseUrl, connectSocket } from '../support/socket';
import { waitFor } from '../support/wait';

const TOKEN = `ghs_conveyorChange${randomBytes(12).toString('hex')}`;
const TESTS = `const test = require('node:test');
const assert = require('node:assert');
const sum = require('../src/sum');
test('adds', () => assert.strictEqual(sum(2, 3), 5));
test('identity', () => assert.strictEqual(sum(7, 0), 7));
`;
const SLOW_TESTS = `const test = require('node:test');
const { spawn } = require('node:child_process');
test('waits', async () => {
  spawn('sleep', ['120'], { stdio: 'ignore' });
  await new Promise((resolve) => setTimeout(resolve, 120_000));
});
`;
/** Each answer rewrites src/sum.js: subtracting fails `adds` with "-1 !== 5", multiplying fails both. */
const ANSWERS = {
  subtract: 'module.exports = (a, b) => a - b;',
  multiply: 'module.exports = (a, b) => a * b;',
  add: 'module.exports = (a, b) => a + b;',
};
type Answer = keyof typeof ANSWERS;
/** The assertion message of `adds` against the subtracting answer: the fix prompt carries it. */
const SUBTRACT_FAILURE = '-1 !== 5';

function answer(kind: Answer): string[] {
  return [`Here it is.\n<file path="src/sum.js">\n`, `${ANSWERS[kind]}\n</file>\n`];
}

function promptOf(request: RecordedRequest): string {
  const messages = (request.body.messages ?? []) as { role: string; content: unknown }[];
  return messages
    .filter((message) => message.role === 'user')
    .map((message) => JSON.stringify(message.content))
    .join('\n');
}

function isFix(request: RecordedRequest): boolean {
  return promptOf(request).includes('do not pass the tests yet');
}

describe('change: a prompt to a tested pull request, on child jobs (e2e)', () => {
  let dir: string;
  let gitServer: GitSmartHttpServer;
  let github: GitHubApiServer;
  let llm: FakeLlmServer;
  let stack: TestStack;
  let api: Api;
  let env: Record<string, string>;
  let repo = 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'conveyor-change-'));
    mkdirSync(join(dir, 'repos', 'acme'), { recursive: true });
    gitServer = await GitSmartHttpServer.start(join(dir, 'repos'), TOKEN);
    github = await GitHubApiServer.start(join(dir, 'repos'), TOKEN);
    llm = await startFakeLlm('openai-chat', { tokens: answer('add') });
    env = {
      ALLOW_LOCAL_REPOS: 'true',
      GITHUB_TOKEN: TOKEN,
      GITHUB_API_URL: github.url,
      GIT_AUTHOR_NAME: 'Conveyor Bot',
      GIT_AUTHOR_EMAIL: 'bot@conveyor.test',
      LLM_PROVIDERS: 'openai-compatible',
      OPENAI_COMPATIBLE_BASE_URL: llm.baseURL,
      OPENAI_COMPATIBLE_MODEL: 'fake-model',
      TEST_SANDBOX: 'auto',
      JOB_BACKOFF_MS: '50',
    };
    stack = await startStack('change', JOB_KINDS, env);
    api = new Api(stack, uniqueUser('change'));
  });

  afterEach(() => llm.respond(undefined));

  afterAll(async () => {
    await killAllConveyors();
    await stack?.close();
    await gitServer?.close();
    await github?.close();
    await llm?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A fresh repository and project: sum.js unwritten, its tests committed. */
  async function project(
    user: Api = api,
    tests = TESTS,
  ): Promise<{ id: string; workspace: string; bare: string; name: string }> {
    repo += 1;
    const name = `widgets${repo}`;
    const bare = makeBareRepo(join(dir, 'repos', 'acme'), name, {
      'package.json': '{ "name": "widgets", "private": true }\n',
      'src/sum.js': "module.exports = () => { throw new Error('not written yet'); };\n",
      'test/sum.test.js': tests,
    });
    const id = await createReadyProject(user, name, gitServer.url(`acme/${name}.git`));
    return { id, workspace: join(stack.config.workspacesDir, id), bare, name };
  }

  /** Answers the first prompt with `first` and every fix prompt with what `fix` picks. */
  function script(first: Answer, fix: (request: RecordedRequest) => Answer): void {
    llm.respond((request) => ({ tokens: answer(isFix(request) ? fix(request) : first) }));
  }

  function callsSince(mark: number): RecordedRequest[] {
    return llm.requests.slice(mark).filter((request) => request.method === 'POST');
  }

  async function submit(projectId: string, params: object, user: Api = api): Promise<string> {
    const res = await user.submit('change', { projectId, params });
    expect({ status: res.status, body: res.body as unknown }).toMatchObject({ status: 202 });
    return (res.body as JobBody).id;
  }

  async function finish(id: string, user: Api = api): Promise<JobBody> {
    return user.waitForStatus(id, ['done', 'error', 'cancelled'], 120_000);
  }

  function result(job: JobBody): ChangeResult {
    expect({ status: job.status, error: job.error }).toEqual({ status: 'done', error: null });
    return job.result as unknown as ChangeResult;
  }

  async function children(parentId: string, user: Api = api): Promise<JobBody[]> {
    return (await user.listAll({ parentId })).sort((a, b) =>
      a.createdAt.localeCompare(b.createdAt),
    );
  }

  it('goes green on the second iteration and opens one ready pull request; every step is a child', async () => {
    const { id: projectId, bare } = await project();
    const socket = await connectSocket(baseUrl(stack.app.getHttpServer()), {
      token: tokenFor(api.user),
    });
    script('subtract', (request) => {
      expect(promptOf(request)).toContain(SUBTRACT_FAILURE);
      return 'add';
    });
    const mark = llm.requests.length;
    try {
      const id = await submit(projectId, {
        prompt: 'Write src/sum.js: green on the second iteration',
        testCommand: 'node --test',
        context: { search: true },
        pullRequest: { title: 'Add sum', body: 'Adds sum().', sourceBranch: 'change/sum' },
      });
      const job = await finish(id);
      const outcome = result(job);
      expect(outcome).toMatchObject({
        outcome: 'passed',
        stopReason: 'passed',
        filesChanged: ['src/sum.js'],
        pullRequest: { draft: false, operation: 'created' },
      });
      expect(outcome.iterations).toHaveLength(2);
      expect(outcome.iterations.map((iteration) => iteration.failing)).toEqual([['adds'], []]);
      expect(outcome.usage.totalTokens).toBeGreaterThan(0);
      const calls = callsSince(mark);
      expect(calls).toHaveLength(2);
      // Context search was on: the model was given the indexed code with paths and lines.
      expect(promptOf(calls[0])).toMatch(
        /<excerpt path=\\"(src\/sum\.js|test\/sum\.test\.js)\\" lines=/,
      );

      const steps = await children(id);
      expect(steps.map((step) => [step.kind, step.status])).toEqual([
        ['indexing', 'done'],
        ['code-generation', 'done'],
        ['test-execution', 'done'],
        ['code-generation', 'done'],
        ['test-execution', 'done'],
        ['pr-creation', 'done'],
      ]);
      const view = (await api.get(`/jobs/${id}`)).body as { children: { id: string }[] };
      expect(view.children.map((child) => child.id).sort()).toEqual(
        steps.map((step) => step.id).sort(),
      );
      const pulls = github.pulls.filter((pull) => pull.head === 'change/sum');
      expect(pulls).toHaveLength(1);
      expect(pulls[0]).toMatchObject({ draft: false, number: outcome.pullRequest!.number });
      expect(git(['show', 'change/sum:src/sum.js'], bare)).toContain('a + b');

      // The owner's socket saw the change and its steps live, in order, children marked.
      await waitFor('the done event on the socket', async () =>
        socket.events.some((event) => event.jobId === id && event.status === 'done'),
      );
      expectStrictlyIncreasing(socket.events);
      const stepIds = new Set(steps.map((step) => step.id));
      const stepEvents = socket.events.filter((event) => stepIds.has(event.jobId));
      expect(stepEvents.length).toBeGreaterThanOrEqual(steps.length * 3);
      for (const event of stepEvents) expect(event).toMatchObject({ parentId: id });
      expect(
        socket.events.filter((event) => event.jobId === id).map((event) => event.message),
      ).toEqual(expect.arrayContaining(['iteration 2 of 3: tests: 2 passed, 0 failed']));

      // A resume from the first event replays exactly what the live socket saw.
      const first = socket.events[0].eventId;
      const resumed = await connectSocket(baseUrl(stack.app.getHttpServer()), {
        token: tokenFor(api.user),
        lastEventId: first,
      });
      try {
        await waitFor('the replay to reach the done event', async () =>
          resumed.events.some((event) => event.jobId === id && event.status === 'done'),
        );
        const live = socket.events.slice(1).map((event) => event.eventId);
        expect(resumed.events.map((event) => event.eventId).slice(0, live.length)).toEqual(live);
      } finally {
        resumed.close();
      }
    } finally {
      socket.close();
    }
  });

  it('never green: stops at maxIterations and opens a draft pull request listing the failing tests', async () => {
    const { id: projectId } = await project();
    script('multiply', () => 'subtract');
    const mark = llm.requests.length;
    const id = await submit(projectId, {
      prompt: 'Write src/sum.js: never green',
      testCommand: 'node --test',
      maxIterations: 2,
      pullRequest: { title: 'Try sum', sourceBranch: 'change/never' },
    });
    const outcome = result(await finish(id));
    expect(outcome).toMatchObject({
      outcome: 'tests-failing',
      stopReason: 'max-iterations',
      pullRequest: { draft: true },
    });
    expect(outcome.iterations.map((iteration) => iteration.failing)).toEqual([
      ['adds', 'identity'],
      ['adds'],
    ]);
    expect(callsSince(mark)).toHaveLength(2);
    const [pull] = github.pulls.filter((p) => p.head === 'change/never');
    expect(pull).toMatchObject({ draft: true });
    expect(pull.body).toContain('Tests still failing');
    expect(pull.body).toContain('adds');
  });

  it('stops for no progress when the same tests fail twice in a row', async () => {
    const { id: projectId } = await project();
    script('subtract', () => 'subtract');
    const mark = llm.requests.length;
    const id = await submit(projectId, {
      prompt: 'Write src/sum.js: no progress',
      testCommand: 'node --test',
      maxIterations: 5,
    });
    const outcome = result(await finish(id));
    expect(outcome).toMatchObject({
      outcome: 'tests-failing',
      stopReason: 'no-progress',
      pullRequest: null,
    });
    expect(outcome.iterations).toHaveLength(2);
    expect(callsSince(mark)).toHaveLength(2);
  });

  it('stops on its budget before a generation it cannot afford: no third provider call', async () => {
    const { id: projectId } = await project();
    // Each generation costs 400 + 100 tokens; after two, 400 are left: below the reserve of 500.
    llm.respond((request) => ({
      tokens: answer(isFix(request) ? 'multiply' : 'subtract'),
      usage: { input: 400, output: 100 },
    }));
    const mark = llm.requests.length;
    const id = await submit(projectId, {
      prompt: 'Write src/sum.js: on a budget',
      testCommand: 'node --test',
      maxIterations: 5,
      maxOutputTokens: 500,
      budget: { maxTokens: 1_400 },
    });
    const outcome = result(await finish(id));
    expect(outcome).toMatchObject({
      stopReason: 'budget',
      usage: { inputTokens: 800, outputTokens: 200, totalTokens: 1_000 },
    });
    expect(outcome.iterations).toHaveLength(2);
    expect(callsSince(mark)).toHaveLength(2);
  });

  it('cancelled while its tests run: the test process tree is gone, nothing is pushed', async () => {
    const { id: projectId, workspace, bare } = await project(api, SLOW_TESTS);
    script('add', () => 'add');
    const id = await submit(projectId, {
      prompt: 'Write src/sum.js: cancelled',
      testCommand: 'node --test',
      pullRequest: { title: 'Never', sourceBranch: 'change/cancelled' },
    });
    await waitFor(
      'the tests and the process they spawned to run in the workspace',
      async () => processesIn(workspace).some((info) => info.argv[0] === 'sleep'),
      60_000,
    );
    const cancel = await api.post(`/jobs/${id}/cancel`);
    expect(cancel.status).toBe(200);
    const job = await finish(id);
    expect(job.status).toBe('cancelled');
    const steps = await children(id);
    expect(steps.map((step) => [step.kind, step.status])).toEqual([
      ['code-generation', 'done'],
      ['test-execution', 'cancelled'],
    ]);
    await waitNoProcesses('process of the tests in the workspace', () => processesIn(workspace));
    expect(git(['for-each-ref', 'refs/heads/change/cancelled'], bare)).toBe('');
    expect(github.pulls.filter((pull) => pull.head === 'change/cancelled')).toEqual([]);
  });

  it('another user can neither see nor cancel a change or its steps; bad params name the field', async () => {
    const { id: projectId } = await project();
    script('add', () => 'add');
    const id = await submit(projectId, {
      prompt: 'Write src/sum.js: private',
      testCommand: 'node --test',
    });
    await finish(id);
    const steps = await children(id);
    expect(steps.length).toBe(2);
    const other = new Api(stack, uniqueUser('other'));
    for (const jobId of [id, ...steps.map((step) => step.id)]) {
      expectError(await other.get(`/jobs/${jobId}`), 404);
      expectError(await other.post(`/jobs/${jobId}/cancel`), 404);
    }
    expect((await other.list({ parentId: id })).items).toEqual([]);

    const bad: [object, RegExp][] = [
      [{}, /params\.prompt/],
      [{ prompt: 'x', maxIterations: 11 }, /params\.maxIterations/],
      [{ prompt: 'x', maxIterations: 0 }, /params\.maxIterations/],
      [{ prompt: 'x', budget: { maxTokens: 0 } }, /params\.budget\.maxTokens/],
      [{ prompt: 'x', budget: {} }, /params\.budget\.maxTokens/],
      [{ prompt: 'x', context: { limit: 51 } }, /params\.context\.limit/],
      [{ prompt: 'x', testCommand: 'rm -rf /' }, /params\.testCommand/],
      [{ prompt: 'x', testCommand: 'node --test; ls' }, /params\.testCommand/],
      [{ prompt: 'x', pullRequest: { title: 'x' } }, /params\.pullRequest\.sourceBranch/],
      [
        { prompt: 'x', pullRequest: { title: 'x', sourceBranch: 'bad..branch' } },
        /params\.pullRequest\.sourceBranch/,
      ],
      [
        { prompt: 'x', pullRequest: { title: 'x', sourceBranch: 'b', draftOnFailure: 'yes' } },
        /params\.pullRequest\.draftOnFailure/,
      ],
      [{ prompt: 'x', provider: 'anthropic' }, /params\.provider/],
      [{ prompt: 'x', unknown: 1 }, /params\.unknown/],
    ];
    for (const [params, message] of bad) {
      expectError(await api.submit('change', { projectId, params }), 400, message);
    }
  });
});

describe('change across processes: a SIGKILLed worker mid-change (e2e)', () => {
  let dir: string;
  let llm: FakeLlmServer;
  let stack: TestStack;
  let api: Api;
  let workerEnv: Record<string, string>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'conveyor-change-kill-'));
    llm = await startFakeLlm('openai-chat', { tokens: answer('add') });
    const env = {
      ALLOW_LOCAL_REPOS: 'true',
      LLM_PROVIDERS: 'openai-compatible',
      OPENAI_COMPATIBLE_BASE_URL: llm.baseURL,
      OPENAI_COMPATIBLE_MODEL: 'fake-model',
      JOB_BACKOFF_MS: '50',
      JOB_LOCK_MS: '2000',
      JOB_STALLED_INTERVAL_MS: '1000',
    };
    stack = await startStack('change-kill', JOB_KINDS, { ...env, APP_ROLE: 'api' });
    api = new Api(stack, uniqueUser('change-kill'));
    workerEnv = {
      ...env,
      APP_ROLE: 'worker',
      DATABASE_URL: stack.db.url,
      QUEUE_PREFIX: stack.prefix,
      JWT_SECRET: TEST_JWT_SECRET,
      DATA_DIR: stack.config.dataDir,
      LOG_LEVEL: 'warn',
    };
  });

  afterAll(async () => {
    await killAllConveyors();
    await stack?.close();
    await llm?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('finishes with exactly as many provider calls as without the kill, no step repeated', async () => {
    const bare = makeBareRepo(dir, 'killed', {
      'package.json': '{ "name": "killed", "private": true }\n',
      'src/sum.js': "module.exports = () => { throw new Error('not written yet'); };\n",
      // A slow test keeps the first test step running while its worker is killed.
      'test/sum.test.js': `${TESTS}test('slow', () => new Promise((resolve) => setTimeout(resolve, 1500)));\n`,
    });
    const projectId = await createReadyProject(api, 'killed', `file://${bare}`);
    llm.respond((request) => ({ tokens: answer(isFix(request) ? 'add' : 'subtract') }));
    const { proc: first } = await startConveyor('change worker A', workerEnv);
    const res = await api.submit('change', {
      projectId,
      params: { prompt: 'Write src/sum.js: killed and recovered', testCommand: 'node --test' },
    });
    expect({ status: res.status, body: res.body as unknown }).toMatchObject({ status: 202 });
    const id = (res.body as JobBody).id;
    await waitFor('the first test step to start', async () =>
      (await api.listAll({ parentId: id })).some((step) => step.kind === 'test-execution'),
    );
    first.signal('SIGKILL');
    await first.exited;
    await startConveyor('change worker B', workerEnv);
    const job = await api.waitForStatus(id, ['done', 'error', 'cancelled'], 120_000);
    expect({ status: job.status, error: job.error }).toEqual({ status: 'done', error: null });
    expect(job.result).toMatchObject({ outcome: 'passed', stopReason: 'passed' });
    expect(llm.requests.filter((request) => request.method === 'POST')).toHaveLength(2);
    const steps = await api.listAll({ parentId: id });
    expect(steps.filter((step) => step.kind === 'code-generation')).toHaveLength(2);
    expect(steps.every((step) => step.status === 'done')).toBe(true);
    // The kill did land mid-change: its run was recovered as attempt 2.
    expect(job.attempts).toBe(2);
    const changeEvents = (await api.events(id, { limit: 1000 })).items;
    expect(changeEvents.some((event) => /recovered/.test(event.message ?? ''))).toBe(true);
  });
});
