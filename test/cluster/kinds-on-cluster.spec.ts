import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JOB_KINDS } from '../../src/job-kinds';
import { Api, uniqueUser, type JobBody } from '../support/api';
import { startStack, type TestStack } from '../support/app';
import { startFakeLlm, type FakeLlmServer } from '../support/fake-llm/fake-llm-server';
import { git, makeBareRepo, writeFiles } from '../support/fixture-repos';
import { GitHubApiServer } from '../support/github-api-server';
import { GitSmartHttpServer } from '../support/git-smart-http-server';
import { createReadyProject } from '../support/projects';
import { useTestCluster } from '../support/redis';
import { RedisCluster } from '../support/redis-cluster';
import { waitFor } from '../support/wait';

const TOKEN = `ghs_conveyorCluster${randomBytes(12).toString('hex')}`;
const SUM = 'module.exports = (a, b) => a + b;\n';
const TESTS = `const test = require('node:test');
const assert = require('node:assert');
const sum = require('../src/sum');
test('adds', () => assert.strictEqual(sum(2, 3), 5));
test('identity', () => assert.strictEqual(sum(7, 0), 7));
`;
/** Both providers answer by writing a correct src/sum.js. */
const ANSWER = ['Here it is.\n<file path="src/sum.js">\n', `${SUM}</file>\n`];
const CIRCUIT_FAILURES = 3;

interface ProviderView {
  name: string;
  health: string;
  retryAt: string | null;
}

/** Every real kind, and the LLM circuit breaker (its state is in Redis), on a Redis Cluster. */
describe('the real kinds on a Redis Cluster', () => {
  let cluster: RedisCluster;
  let dir: string;
  let gitServer: GitSmartHttpServer;
  let github: GitHubApiServer;
  let xai: FakeLlmServer;
  let compatible: FakeLlmServer;
  let stack: TestStack;
  let api: Api;
  let repo = 0;

  beforeAll(async () => {
    cluster = await RedisCluster.start();
    useTestCluster(cluster.nodeList);
    dir = mkdtempSync(join(tmpdir(), 'conveyor-cluster-kinds-'));
    mkdirSync(join(dir, 'repos', 'acme'), { recursive: true });
    gitServer = await GitSmartHttpServer.start(join(dir, 'repos'), TOKEN);
    github = await GitHubApiServer.start(join(dir, 'repos'), TOKEN);
    xai = await startFakeLlm('openai-chat', { tokens: ANSWER });
    compatible = await startFakeLlm('openai-chat', { tokens: ANSWER });
    stack = await startStack('cluster-kinds', JOB_KINDS, {
      ALLOW_LOCAL_REPOS: 'true',
      GITHUB_TOKEN: TOKEN,
      GITHUB_API_URL: github.url,
      GIT_AUTHOR_NAME: 'Conveyor Bot',
      GIT_AUTHOR_EMAIL: 'bot@conveyor.test',
      LLM_PROVIDERS: 'xai,openai-compatible',
      XAI_API_KEY: 'xai-cluster-test-key',
      XAI_BASE_URL: xai.baseURL,
      XAI_MODEL: 'grok-cluster',
      OPENAI_COMPATIBLE_BASE_URL: compatible.baseURL,
      OPENAI_COMPATIBLE_MODEL: 'local-cluster',
      LLM_CIRCUIT_FAILURES: String(CIRCUIT_FAILURES),
      LLM_CIRCUIT_COOLDOWN_MS: '1500',
      TEST_SANDBOX: 'auto',
      JOB_BACKOFF_MS: '50',
    });
    api = new Api(stack, uniqueUser('cluster-kinds'));
  });

  afterAll(async () => {
    await stack?.close();
    await gitServer?.close();
    await github?.close();
    await xai?.close();
    await compatible?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    await cluster?.stop();
  });

  /** A fresh repository (tests committed; sum.js written or not) and its ready project. */
  async function project(
    sumWritten: boolean,
  ): Promise<{ id: string; workspace: string; bare: string }> {
    repo += 1;
    const name = `widgets${repo}`;
    const bare = makeBareRepo(join(dir, 'repos', 'acme'), name, {
      'package.json': '{ "name": "widgets", "private": true }\n',
      'src/sum.js': sumWritten ? SUM : "module.exports = () => { throw new Error('todo'); };\n",
      'test/sum.test.js': TESTS,
    });
    const id = await createReadyProject(api, name, gitServer.url(`acme/${name}.git`));
    return { id, workspace: join(stack.config.workspacesDir, id), bare };
  }

  async function run(kind: string, projectId: string, params: object): Promise<JobBody> {
    const res = await api.submit(kind, { projectId, params });
    expect({ status: res.status, body: res.body as unknown }).toMatchObject({ status: 202 });
    return api.waitForStatus((res.body as JobBody).id, undefined, 60_000);
  }

  async function providers(): Promise<ProviderView[]> {
    const res = await api.get('/providers');
    expect(res.status).toBe(200);
    return (res.body as { items: ProviderView[] }).items;
  }

  it('code-generation: streams an answer and writes its file', async () => {
    const { id } = await project(false);
    const job = await run('code-generation', id, { prompt: 'Write sum', cache: false });
    expect(job).toMatchObject({
      status: 'done',
      error: null,
      result: { provider: 'xai', applied: true, files: [{ path: 'src/sum.js' }] },
    });
  });

  it('test-execution: runs the project tests', async () => {
    const { id } = await project(true);
    const job = await run('test-execution', id, { testCommand: 'node --test' });
    expect(job).toMatchObject({ status: 'done', error: null, result: { passed: 2, failed: 0 } });
  });

  it('indexing: indexes the workspace and the search finds its code', async () => {
    const { id } = await project(true);
    const job = await run('indexing', id, {});
    expect(job).toMatchObject({ status: 'done', error: null, result: { files: { indexed: 3 } } });
    const res = await api.get(`/projects/${id}/search`).query({ q: 'sum', limit: 5 });
    expect(res.status).toBe(200);
    const paths = (res.body as { items: { path: string }[] }).items.map((item) => item.path);
    expect(paths).toContain('src/sum.js');
  });

  it('pr-creation: pushes the branch and opens the pull request', async () => {
    const { id, workspace, bare } = await project(true);
    writeFiles(workspace, { 'README.md': '# widgets\n' });
    const job = await run('pr-creation', id, { title: 'Add readme', sourceBranch: 'docs/readme' });
    expect(job).toMatchObject({ status: 'done', error: null, result: { operation: 'created' } });
    const headSha = (job.result as { headSha: string }).headSha;
    expect(git(['rev-parse', 'refs/heads/docs/readme'], bare).trim()).toBe(headSha);
    expect(github.pulls.filter((pull) => pull.head === 'docs/readme')).toHaveLength(1);
  });

  it('change: runs its steps as child jobs, every one to done, and opens the pull request', async () => {
    const { id, bare } = await project(false);
    const job = await run('change', id, {
      prompt: 'Write src/sum.js',
      testCommand: 'node --test',
      pullRequest: { title: 'Add sum', sourceBranch: 'change/sum' },
    });
    expect({ status: job.status, error: job.error }).toEqual({ status: 'done', error: null });
    expect(job.result).toMatchObject({ outcome: 'passed', pullRequest: { operation: 'created' } });
    const children = (await api.listAll({ parentId: job.id })).sort((a, b) =>
      a.createdAt.localeCompare(b.createdAt),
    );
    expect(children.map((child) => [child.kind, child.status])).toEqual([
      ['code-generation', 'done'],
      ['test-execution', 'done'],
      ['pr-creation', 'done'],
    ]);
    expect(git(['show', 'change/sum:src/sum.js'], bare)).toBe(SUM);
  });

  it('the LLM circuit breaker opens after failures in a row, is skipped, then resets', async () => {
    const { id } = await project(false);
    xai.setDefault({ status: 503, errorMessage: 'down' });
    try {
      const failed = await run('code-generation', id, {
        prompt: 'down',
        provider: 'xai',
        cache: false,
      });
      expect(failed).toMatchObject({
        status: 'error',
        attempts: CIRCUIT_FAILURES,
        error: expect.stringMatching(/503|down/),
      });
      expect((await providers())[0]).toMatchObject({
        name: 'xai',
        health: 'open',
        retryAt: expect.any(String),
      });
      const requestsBefore = xai.requests.length;
      const skipped = await run('code-generation', id, { prompt: 'skip xai', cache: false });
      expect(skipped).toMatchObject({
        status: 'done',
        result: {
          provider: 'openai-compatible',
          failover: [
            { provider: 'xai', error: expect.stringMatching(/^skipped: circuit open after 3/) },
          ],
        },
      });
      expect(xai.requests.length).toBe(requestsBefore);
    } finally {
      xai.setDefault({ tokens: ANSWER });
    }
    await waitFor(
      'the cool-down to let xai through again',
      async () => (await providers())[0].health === 'closed',
      10_000,
      100,
    );
    const back = await run('code-generation', id, {
      prompt: 'back',
      provider: 'xai',
      cache: false,
    });
    expect(back).toMatchObject({ status: 'done', attempts: 1, result: { provider: 'xai' } });
    // The success reset the count: one more failure is one in a row, not the circuit reopening.
    xai.reply({ status: 503, errorMessage: 'blip' });
    const blip = await run('code-generation', id, {
      prompt: 'blip',
      provider: 'xai',
      cache: false,
    });
    expect(blip).toMatchObject({ status: 'done', attempts: 2, result: { provider: 'xai' } });
    expect((await providers())[0]).toMatchObject({ name: 'xai', health: 'closed', retryAt: null });
  });
});
