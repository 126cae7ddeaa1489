import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import request from 'supertest';
import type { PrCreationResult } from '../../src/kinds/pr-creation/pr-creation.result';
import { TEST_JWT_SECRET } from '../support/app';
import { Api, expectError, uniqueUser, type JobBody } from '../support/api';
import { ConveyorProcess, killAllConveyors, startConveyor } from '../support/conveyor-process';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { makeBareRepo, writeFiles } from '../support/fixture-repos';
import { GitHubApiServer } from '../support/github-api-server';
import { basicTokenAuth, GitSmartHttpServer } from '../support/git-smart-http-server';
import { dropPrefix, TEST_REDIS_URL, uniquePrefix } from '../support/redis';
import { waitFor } from '../support/wait';

const ROOT = resolve(__dirname, '../..');
const PROJECT_TOKEN = `ghp_projectOwn${randomBytes(12).toString('hex')}`;
const SERVER_TOKEN = `ghs_serverWide${randomBytes(12).toString('hex')}`;
const KEY_A = randomBytes(32);
const KEY_B = randomBytes(32);
const KEY_C = randomBytes(32);

/** Every form the project's token could leak in: as is, and as the Basic header git sends. */
const TOKEN_FORMS = [PROJECT_TOKEN, basicTokenAuth(PROJECT_TOKEN).slice('Basic '.length)];

function keyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

function expectNoToken(what: string, text: string): void {
  for (const form of TOKEN_FORMS) {
    expect({ what, leaked: text.includes(form) }).toEqual({ what, leaked: false });
  }
}

describe('per-project GitHub credentials, against a private git smart-HTTP repository and GitHub on loopback', () => {
  let dir: string;
  let dataDir: string;
  let reposRoot: string;
  let gitServer: GitSmartHttpServer;
  let github: GitHubApiServer;
  let db: TestDatabase;
  let prefix: string;
  let proc: ConveyorProcess | undefined;
  let baseUrl: string;
  /** stdout and stderr of every Conveyor process and CLI run of this file. */
  const output: string[] = [];
  const owner = uniqueUser('creds');
  let api: Api;
  let other: Api;
  let projectId: string;
  let branch = 0;

  async function restart(label: string, secrets: Record<string, string>): Promise<void> {
    await stop();
    const started = await startConveyor(
      label,
      {
        PORT: '0',
        DATABASE_URL: db.url,
        QUEUE_PREFIX: prefix,
        REDIS_URL: TEST_REDIS_URL,
        JWT_SECRET: TEST_JWT_SECRET,
        DATA_DIR: dataDir,
        LOG_LEVEL: 'trace',
        ALLOW_LOCAL_REPOS: 'true',
        GITHUB_TOKEN: SERVER_TOKEN,
        GITHUB_API_URL: github.url,
        JOB_BACKOFF_MS: '50',
        ...secrets,
      },
      90_000,
    );
    proc = started.proc;
    baseUrl = `http://127.0.0.1:${started.ready.port}`;
  }

  async function stop(): Promise<void> {
    if (!proc) return;
    proc.signal('SIGTERM');
    await proc.exited;
    output.push(proc.stdout, proc.stderr);
    proc = undefined;
  }

  const stack = { http: () => request(baseUrl) };

  function put(user: Api, path: string, body: unknown) {
    return stack
      .http()
      .put(`/api/v1${path}`)
      .set('Authorization', user.auth)
      .send(body as object);
  }

  function del(user: Api, path: string) {
    return stack.http().delete(`/api/v1${path}`).set('Authorization', user.auth);
  }

  async function readyProject(id: string): Promise<Record<string, unknown>> {
    return waitFor(`project ${id} to finish cloning`, async () => {
      const body = (await api.get(`/projects/${id}`)).body as Record<string, unknown>;
      return body.status === 'cloning' ? undefined : body;
    });
  }

  async function projectRow(id: string): Promise<Record<string, unknown>> {
    const client = new Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query<Record<string, unknown>>(
        'SELECT * FROM "Project" WHERE id = $1',
        [id],
      );
      return rows[0];
    } finally {
      await client.end();
    }
  }

  /** Runs a pr-creation of a new file on a new branch; the job as it ended, events, log. */
  async function proposeChange(): Promise<{ job: JobBody; leakable: string }> {
    branch += 1;
    writeFiles(join(dataDir, 'workspaces', projectId), { [`notes/${branch}.md`]: `${branch}\n` });
    const res = await api.submit('pr-creation', {
      projectId,
      params: { title: `Change ${branch}`, sourceBranch: `feature/change-${branch}` },
    });
    expect({ status: res.status, body: res.body as unknown }).toMatchObject({ status: 202 });
    const id = (res.body as JobBody).id;
    const job = await api.waitForStatus(id, ['done', 'error', 'cancelled'], 60_000);
    const log = (await api.get(`/jobs/${id}/log`)).text;
    const events = JSON.stringify(await api.allEvents(id));
    return { job, leakable: [JSON.stringify(job), log, events].join('\n') };
  }

  async function expectPullRequestWithProjectToken(): Promise<void> {
    const pushesBefore = gitServer.pushes().length;
    const { job, leakable } = await proposeChange();
    expect(job).toMatchObject({ status: 'done', error: null, attempts: 1 });
    expectNoToken('job, log and events', leakable);
    const pr = job.result as unknown as PrCreationResult;
    const pushes = gitServer.pushes().slice(pushesBefore);
    expect(pushes.map((push) => push.authorization)).toContain(basicTokenAuth(PROJECT_TOKEN));
    const opened = github.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/pulls'));
    expect(opened.at(-1)?.authorization).toMatch(new RegExp(` ${PROJECT_TOKEN}$`));
    expect(github.pulls.find((pull) => pull.number === pr.number)).toMatchObject({
      head: `feature/change-${branch}`,
      headSha: pr.headSha,
    });
  }

  async function expectJobFails(message: RegExp): Promise<void> {
    const { job, leakable } = await proposeChange();
    expect(job).toMatchObject({ status: 'error', attempts: 1 });
    expect(job.error).toMatch(message);
    expectNoToken('failed job, log and events', leakable);
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'conveyor-creds-'));
    dataDir = join(dir, 'data');
    reposRoot = join(dir, 'repos');
    mkdirSync(join(reposRoot, 'acme'), { recursive: true });
    makeBareRepo(join(reposRoot, 'acme'), 'secret', { 'README.md': '# secret\n' });
    // Both answer the project's token only: the server-wide one gets 401.
    gitServer = await GitSmartHttpServer.start(reposRoot, PROJECT_TOKEN);
    gitServer.private = true;
    github = await GitHubApiServer.start(reposRoot, PROJECT_TOKEN);
    db = await createTestDatabase();
    prefix = uniquePrefix('creds');
    await restart('key A', { SECRETS_KEY: KEY_A.toString('hex') });
    api = new Api(stack, owner);
    other = new Api(stack, uniqueUser('creds-other'));
  }, 120_000);

  afterAll(async () => {
    await stop().catch(() => undefined);
    await killAllConveyors();
    await gitServer?.close();
    await github?.close();
    await dropPrefix(prefix);
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a private repository does not clone without a token, and clones with the project token', async () => {
    const repoUrl = gitServer.url('acme/secret.git');
    const bare = await api.post('/projects', { name: 'no token', repoUrl });
    expect(bare.status).toBe(201);
    expect(bare.body).toMatchObject({ hasGithubToken: false });
    const failed = await readyProject((bare.body as { id: string }).id);
    expect(failed).toMatchObject({ status: 'error', error: expect.stringMatching(/clone failed/) });

    const res = await api.post('/projects', {
      name: 'secret',
      repoUrl,
      githubToken: PROJECT_TOKEN,
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ hasGithubToken: true });
    expectNoToken('POST /projects', res.text);
    projectId = (res.body as { id: string }).id;
    expect(await readyProject(projectId)).toMatchObject({ status: 'ready', hasGithubToken: true });
    const listed = await api.get('/projects');
    expect(listed.body).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: projectId, hasGithubToken: true })]),
    );
    expectNoToken('GET /projects', listed.text);

    // The clone sent the project's token; the workspace's git config does not hold it.
    const fetches = gitServer.requests.filter((r) => r.service === 'git-upload-pack');
    expect(fetches.map((r) => r.authorization)).toContain(basicTokenAuth(PROJECT_TOKEN));
    const gitConfig = readFileSync(
      join(dataDir, 'workspaces', projectId, '.git', 'config'),
      'utf8',
    );
    expect(gitConfig).toContain(repoUrl);
    expectNoToken('.git/config', gitConfig);
    expect(gitConfig).not.toMatch(/extraHeader|Authorization/i);

    // The row holds ciphertext under key A's id, never the token's bytes.
    const row = await projectRow(projectId);
    expect(row).toMatchObject({
      githubTokenKeyId: keyId(KEY_A),
      githubTokenSecret: expect.stringMatching(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/),
    });
    expectNoToken('database row', JSON.stringify(row));
    const ciphertext = Buffer.from(String(row.githubTokenSecret).split('.')[3], 'base64url');
    expect(ciphertext.includes(Buffer.from(PROJECT_TOKEN))).toBe(false);
  });

  it("pr-creation pushes and opens the pull request with the project's token, not GITHUB_TOKEN", async () => {
    await expectPullRequestWithProjectToken();
    expect(gitServer.requests.some((r) => r.authorization === basicTokenAuth(SERVER_TOKEN))).toBe(
      false,
    );
  });

  it('refuses bad tokens with a 400 naming githubToken, and answers 404 for another user', async () => {
    const rule = /githubToken must be 1-1000 printable ASCII characters without spaces/;
    for (const githubToken of ['has space', '', 'x'.repeat(1001), 'tab\there', 'é-token']) {
      expectError(await put(api, `/projects/${projectId}/credentials`, { githubToken }), 400, rule);
      expectError(await api.post('/projects', { name: 'bad', githubToken }), 400, rule);
    }
    for (const githubToken of [42, null, ['ghp_x'], { token: 'x' }]) {
      expectError(
        await put(api, `/projects/${projectId}/credentials`, { githubToken }),
        400,
        /githubToken/,
      );
    }
    expectError(await put(api, `/projects/${projectId}/credentials`, {}), 400, /githubToken/);

    const path = `/projects/${projectId}/credentials`;
    expectError(await put(other, path, { githubToken: 'ghp_other' }), 404);
    expectError(await del(other, path), 404);
    expectError(await other.get(`/projects/${projectId}`), 404);
    expectError(await put(api, '/projects/not-a-uuid/credentials', { githubToken: 'x' }), 404);

    const removed = await del(api, path);
    expect({ status: removed.status, body: removed.body as unknown }).toMatchObject({
      status: 200,
      body: { id: projectId, hasGithubToken: false },
    });
    expect(await projectRow(projectId)).toMatchObject({
      githubTokenSecret: null,
      githubTokenKeyId: null,
    });
    const stored = await put(api, path, { githubToken: PROJECT_TOKEN });
    expect({ status: stored.status, body: stored.body as unknown }).toMatchObject({
      status: 200,
      body: { id: projectId, hasGithubToken: true },
    });
    expectNoToken('PUT credentials', stored.text);
  });

  it('without SECRETS_KEY a token is refused with 501, and a stored one fails the job clearly', async () => {
    await restart('no key', {});
    const res = await api.post('/projects', { name: 'x', githubToken: 'ghp_whatever' });
    expectError(res, 501, /SECRETS_KEY/);
    expectError(
      await put(api, `/projects/${projectId}/credentials`, { githubToken: 'ghp_whatever' }),
      501,
      /SECRETS_KEY/,
    );
    await expectJobFails(/GitHub token is unusable: SECRETS_KEY is not set/);
  });

  it('a wrong SECRETS_KEY fails the job with a clear error naming key ids only', async () => {
    await restart('wrong key', { SECRETS_KEY: KEY_C.toString('base64') });
    await expectJobFails(
      new RegExp(
        `sealed under key id ${keyId(KEY_A)}, which is neither SECRETS_KEY \\(id ${keyId(KEY_C)}\\)`,
      ),
    );
  });

  it('rotation: SECRETS_KEY_PREVIOUS still opens, secrets:rotate re-seals, then the new key alone serves', async () => {
    const rotated = {
      SECRETS_KEY: KEY_B.toString('base64'),
      SECRETS_KEY_PREVIOUS: KEY_A.toString('hex'),
    };
    await restart('key B, previous A', rotated);
    await expectPullRequestWithProjectToken();
    expect(await projectRow(projectId)).toMatchObject({ githubTokenKeyId: keyId(KEY_A) });

    const cli = new ConveyorProcess(
      'secrets:rotate',
      { DATABASE_URL: db.url, ...rotated },
      join(ROOT, 'src/cli/secrets-rotate.ts'),
    );
    const exit = await cli.exited;
    output.push(cli.stdout, cli.stderr);
    expect({ exit, stderr: cli.stderr }).toEqual({ exit: { code: 0, signal: null }, stderr: '' });
    expect(cli.stdout).toContain(`1 credential(s) sealed again under key id ${keyId(KEY_B)}`);
    const row = await projectRow(projectId);
    expect(row).toMatchObject({ githubTokenKeyId: keyId(KEY_B) });
    expectNoToken('database row after rotation', JSON.stringify(row));

    await restart('key B only', { SECRETS_KEY: KEY_B.toString('hex') });
    await expectPullRequestWithProjectToken();
  }, 300_000);

  it('no log line of any process, nor the rotate CLI, holds the token', async () => {
    await stop();
    const all = output.join('\n');
    // The processes did log (LOG_LEVEL=trace), including the jobs above.
    expect(all).toMatch(/request completed/);
    expectNoToken('logs', all);
  });
});
