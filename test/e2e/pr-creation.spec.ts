import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { prCreationKind } from '../../src/kinds/pr-creation/pr-creation.kind';
import type { PrCreationResult } from '../../src/kinds/pr-creation/pr-creation.result';
import { startStack, type TestStack } from '../support/app';
import { Api, expectError, uniqueUser, type EventBody, type JobBody } from '../support/api';
import { git, makeBareRepo, writeFiles } from '../support/fixture-repos';
import { GitHubApiServer } from '../support/github-api-server';
import { basicTokenAuth, GitSmartHttpServer } from '../support/git-smart-http-server';
import { processes } from '../support/processes';
import { waitFor } from '../support/wait';

const KIND = 'pr-creation';
const TOKEN = `ghs_conveyorTest${randomBytes(12).toString('hex')}`;
const AUTHOR = { name: 'Conveyor Bot', email: 'bot@conveyor.test' };
const RESULT_KEYS = [
  'base',
  'branch',
  'draft',
  'filesChanged',
  'headSha',
  'number',
  'operation',
  'url',
];

interface Finished {
  job: JobBody;
  events: EventBody[];
  log: string;
}

describe('pr-creation against a git smart-HTTP server and a GitHub REST API on loopback', () => {
  let dir: string;
  let reposRoot: string;
  let bare: string;
  let gitServer: GitSmartHttpServer;
  let github: GitHubApiServer;
  let stack: TestStack;
  let api: Api;
  const jobs: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'conveyor-pr-'));
    reposRoot = join(dir, 'repos');
    mkdirSync(join(reposRoot, 'acme'), { recursive: true });
    bare = makeBareRepo(join(reposRoot, 'acme'), 'widgets', {
      'README.md': '# widgets\n',
      'src/old.txt': 'to be deleted\n',
      'src/keep.txt': 'kept\n',
    });
    gitServer = await GitSmartHttpServer.start(reposRoot, TOKEN);
    github = await GitHubApiServer.start(reposRoot, TOKEN);
    stack = await startStack('prcreate', [prCreationKind], {
      ALLOW_LOCAL_REPOS: 'true',
      GITHUB_TOKEN: TOKEN,
      GITHUB_API_URL: github.url,
      GIT_AUTHOR_NAME: AUTHOR.name,
      GIT_AUTHOR_EMAIL: AUTHOR.email,
      JOB_BACKOFF_MS: '50',
    });
    api = new Api(stack, uniqueUser('pr'));
  });

  afterAll(async () => {
    await stack?.close();
    await gitServer?.close();
    await github?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function project(user: Api = api): Promise<{ id: string; workspace: string }> {
    const res = await user.post('/projects', {
      name: 'widgets',
      repoUrl: gitServer.url('acme/widgets.git'),
    });
    expect({ status: res.status, body: res.body as unknown }).toMatchObject({ status: 201 });
    const id = (res.body as { id: string }).id;
    await waitFor(`project ${id} to be ready`, async () => {
      const body = (await user.get(`/projects/${id}`)).body as { status: string };
      if (body.status === 'error') throw new Error(`clone failed: ${JSON.stringify(body)}`);
      return body.status === 'ready';
    });
    return { id, workspace: join(stack.config.workspacesDir, id) };
  }

  async function run(projectId: string, params: object): Promise<Finished> {
    const res = await api.submit(KIND, { projectId, params });
    expect({ status: res.status, body: res.body as unknown }).toMatchObject({ status: 202 });
    const id = (res.body as JobBody).id;
    jobs.push(id);
    const job = await api.waitForStatus(id, ['done', 'error', 'cancelled'], 60_000);
    const log = await api.get(`/jobs/${id}/log`);
    expect(log.status).toBe(200);
    return { job, events: await api.allEvents(id), log: log.text };
  }

  function result(job: JobBody): PrCreationResult {
    expect(job).toMatchObject({ status: 'done', error: null });
    expect(Object.keys(job.result ?? {}).sort()).toEqual(RESULT_KEYS);
    return job.result as unknown as PrCreationResult;
  }

  function remoteSha(branch: string): string {
    return git(['rev-parse', `refs/heads/${branch}`], bare).trim();
  }

  function remoteHas(branch: string): boolean {
    return git(['for-each-ref', `refs/heads/${branch}`], bare) !== '';
  }

  function pullsFor(head: string) {
    return github.pulls.filter((pull) => pull.head === head);
  }

  it('commits new, modified and deleted files on the branch, pushes it and opens the pull request', async () => {
    const { id, workspace } = await project();
    writeFiles(workspace, {
      'README.md': '# widgets\n\nNow with greetings.\n',
      'src/hi.ts': 'x\n',
    });
    rmSync(join(workspace, 'src/old.txt'));
    // While git pushes: the token is in no process's argv, and in the pushing git's
    // environment only as the one configuration entry given to it.
    const pushers: { argvWithToken: number; environ: string[] }[] = [];
    gitServer.onRequest = (request) => {
      if (request.service !== 'git-receive-pack') return;
      const all = processes();
      const push = all.find((p) => p.argv[0] === 'git' && p.argv.includes('push'));
      const environ = push ? readFileSync(`/proc/${push.pid}/environ`, 'utf8').split('\0') : [];
      const argvWithToken = all.filter((p) => p.argv.some((arg) => arg.includes(TOKEN))).length;
      pushers.push({ argvWithToken, environ });
    };
    let finished: Finished;
    try {
      finished = await run(id, {
        title: 'Add greetings',
        description: 'Generated by Conveyor.',
        sourceBranch: 'feature/greetings',
      });
    } finally {
      gitServer.onRequest = undefined;
    }
    const { job, log } = finished;
    expect(pushers.length).toBeGreaterThan(0);
    for (const { argvWithToken, environ } of pushers) {
      expect(argvWithToken).toBe(0);
      expect(environ).toEqual(
        expect.arrayContaining([
          'GIT_CONFIG_COUNT=1',
          `GIT_CONFIG_KEY_0=http.${gitServer.url('acme/widgets.git')}.extraHeader`,
          `GIT_CONFIG_VALUE_0=Authorization: ${basicTokenAuth(TOKEN)}`,
        ]),
      );
      expect(environ.filter((entry) => entry.includes(TOKEN))).toEqual([]);
    }

    const pr = result(job);
    expect(job.attempts).toBe(1);
    expect(pr).toMatchObject({
      branch: 'feature/greetings',
      base: 'main',
      operation: 'created',
      filesChanged: 3,
      url: `https://github.test/acme/widgets/pull/${pr.number}`,
    });
    expect(pr.headSha).toMatch(/^[0-9a-f]{40}$/);
    // The branch on the remote is the commit reported, made by the configured author.
    expect(remoteSha('feature/greetings')).toBe(pr.headSha);
    expect(git(['log', '-1', '--format=%an <%ae>|%cn <%ce>|%s', pr.headSha], bare).trim()).toBe(
      `${AUTHOR.name} <${AUTHOR.email}>|${AUTHOR.name} <${AUTHOR.email}>|Add greetings`,
    );
    const files = git(['ls-tree', '-r', '--name-only', pr.headSha], bare).trim().split('\n');
    expect(files.sort()).toEqual(['README.md', 'src/hi.ts', 'src/keep.txt']);
    // The workspace now sits on the branch, clean.
    expect(git(['status', '--porcelain'], workspace)).toBe('');
    expect(git(['symbolic-ref', '--short', 'HEAD'], workspace).trim()).toBe('feature/greetings');
    // GitHub got one pull request with the alias as its body.
    expect(pullsFor('feature/greetings')).toEqual([
      expect.objectContaining({
        number: pr.number,
        title: 'Add greetings',
        body: 'Generated by Conveyor.',
        base: 'main',
        headSha: pr.headSha,
        draft: false,
      }),
    ]);
    // The push carried the token as GitHub takes it over HTTPS.
    const pushes = gitServer.pushes();
    expect(pushes.length).toBeGreaterThan(0);
    expect(pushes.at(-1)?.authorization).toBe(basicTokenAuth(TOKEN));
    expect(log).toContain(`pull request #${pr.number} created`);
  });

  it('updates the open pull request of the same branch instead of opening a second one', async () => {
    const { id, workspace } = await project();
    writeFiles(workspace, { 'src/update.txt': 'one\n' });
    const first = result(
      (await run(id, { title: 'First title', body: 'first', sourceBranch: 'feature/update' })).job,
    );
    writeFiles(workspace, { 'src/update.txt': 'two\n' });
    const second = result(
      (
        await run(id, {
          title: 'Second title',
          body: 'second',
          sourceBranch: 'feature/update',
          commitMessage: 'Change the update file again',
        })
      ).job,
    );
    expect(second).toMatchObject({ number: first.number, operation: 'updated', filesChanged: 1 });
    expect(second.headSha).not.toBe(first.headSha);
    expect(git(['rev-parse', `${second.headSha}^`], bare).trim()).toBe(first.headSha);
    expect(git(['log', '-1', '--format=%s', second.headSha], bare).trim()).toBe(
      'Change the update file again',
    );
    expect(remoteSha('feature/update')).toBe(second.headSha);
    expect(pullsFor('feature/update')).toEqual([
      expect.objectContaining({ number: first.number, title: 'Second title', body: 'second' }),
    ]);
    const patches = github.requests.filter(
      (r) => r.method === 'PATCH' && r.path === `/repos/acme/widgets/pulls/${first.number}`,
    );
    expect(patches.map((r) => r.body)).toEqual([{ title: 'Second title', body: 'second' }]);
    const lists = github.requests.filter(
      (r) => r.method === 'GET' && r.path === '/repos/acme/widgets/pulls',
    );
    expect(lists.at(-1)?.query).toMatchObject({
      state: 'open',
      head: 'acme:feature/update',
      base: 'main',
    });
  });

  it('sets labels, reviewers, team reviewers and assignees through their endpoints, and opens drafts', async () => {
    const { id, workspace } = await project();
    writeFiles(workspace, { 'labels.txt': 'x\n' });
    const pr = result(
      (
        await run(id, {
          title: 'Labelled',
          sourceBranch: 'feature/labels',
          draft: true,
          labels: ['bug', 'ai-generated'],
          reviewers: ['octocat'],
          teamReviewers: ['core-team'],
          assignees: ['hubot', 'monalisa'],
        })
      ).job,
    );
    expect(pullsFor('feature/labels')).toEqual([
      expect.objectContaining({
        number: pr.number,
        draft: true,
        body: '',
        labels: ['bug', 'ai-generated'],
        reviewers: ['octocat'],
        teamReviewers: ['core-team'],
        assignees: ['hubot', 'monalisa'],
      }),
    ]);
    const calls = github.requests
      .filter((r) => r.method === 'POST' && r.path.includes(`/${pr.number}/`))
      .map((r) => [r.path, r.body]);
    expect(calls).toEqual([
      [`/repos/acme/widgets/issues/${pr.number}/labels`, { labels: ['bug', 'ai-generated'] }],
      [
        `/repos/acme/widgets/pulls/${pr.number}/requested_reviewers`,
        { reviewers: ['octocat'], team_reviewers: ['core-team'] },
      ],
      [`/repos/acme/widgets/issues/${pr.number}/assignees`, { assignees: ['hubot', 'monalisa'] }],
    ]);
  });

  it('proposes an existing commit given as commitId, leaving the workspace as it is', async () => {
    const { id, workspace } = await project();
    git(['checkout', '--quiet', '-b', 'prepared'], workspace);
    writeFiles(workspace, { 'prepared.txt': 'prepared\n' });
    git(['add', '--all'], workspace);
    git(['commit', '--quiet', '-m', 'prepared by hand'], workspace);
    const sha = git(['rev-parse', 'HEAD'], workspace).trim();
    git(['checkout', '--quiet', 'main'], workspace);
    writeFiles(workspace, { 'uncommitted.txt': 'stays out\n' });

    const pr = result(
      (
        await run(id, {
          title: 'Prepared',
          sourceBranch: 'feature/prepared',
          commitId: sha.slice(0, 10),
        })
      ).job,
    );
    expect(pr).toMatchObject({ headSha: sha, filesChanged: 1, operation: 'created' });
    expect(remoteSha('feature/prepared')).toBe(sha);
    expect(git(['symbolic-ref', '--short', 'HEAD'], workspace).trim()).toBe('main');
    expect(git(['status', '--porcelain'], workspace)).toBe('?? uncommitted.txt\n');

    const missing = await run(id, {
      title: 'Missing',
      sourceBranch: 'feature/missing',
      commitId: 'deadbeefdeadbeef',
    });
    expect(missing.job).toMatchObject({
      status: 'error',
      attempts: 1,
      error: 'commitId deadbeefdeadbeef is not a commit in the workspace',
    });
  });

  it('fails, not retried, when there is nothing to propose, or the target branch does not exist', async () => {
    const { id } = await project();
    const nothing = await run(id, { title: 'Nothing', sourceBranch: 'feature/nothing' });
    expect(nothing.job).toMatchObject({
      status: 'error',
      attempts: 1,
      result: null,
      error:
        'nothing to propose: the workspace has no uncommitted changes and no commit ahead of main',
    });
    expect(remoteHas('feature/nothing')).toBe(false);
    expect(pullsFor('feature/nothing')).toEqual([]);

    const noTarget = await run(id, {
      title: 'Nowhere',
      sourceBranch: 'feature/nowhere',
      targetBranch: 'release/9',
    });
    expect(noTarget.job).toMatchObject({
      status: 'error',
      attempts: 1,
      error: 'targetBranch release/9 does not exist on the remote',
    });
  });

  it("fails at once with GitHub's message on bad credentials, and with git's on a refused push", async () => {
    const { id, workspace } = await project();
    writeFiles(workspace, { 'creds.txt': 'x\n' });
    github.token = 'a-token-github-does-not-know';
    let badApi: Finished;
    try {
      badApi = await run(id, { title: 'Creds', sourceBranch: 'feature/creds' });
    } finally {
      github.token = TOKEN;
    }
    expect(badApi.job).toMatchObject({
      status: 'error',
      attempts: 1,
      result: null,
      error: 'GitHub answered 401 to create the pull request: Bad credentials',
    });

    writeFiles(workspace, { 'creds.txt': 'y\n' });
    gitServer.token = 'a-token-the-git-server-does-not-know';
    let badPush: Finished;
    try {
      badPush = await run(id, { title: 'Creds', sourceBranch: 'feature/creds-push' });
    } finally {
      gitServer.token = TOKEN;
    }
    expect(badPush.job).toMatchObject({ status: 'error', attempts: 1, result: null });
    expect(badPush.job.error).toMatch(
      /^git could not push feature\/creds-push: .*Authentication failed/,
    );
  });

  it('retries a 502 from GitHub by the job policy, then succeeds', async () => {
    const { id, workspace } = await project();
    writeFiles(workspace, { 'retry.txt': 'x\n' });
    github.failNext('POST', /^\/repos\/acme\/widgets\/pulls$/, 502, { message: 'Server Error' });
    const { job, events } = await run(id, { title: 'Retry', sourceBranch: 'feature/retry' });
    expect(result(job)).toMatchObject({ operation: 'created' });
    expect(job.attempts).toBe(2);
    expect(events.map((e) => e.message ?? '')).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /attempt 1 of 3 failed: GitHub 502: could not create the pull request: Server Error/,
        ),
      ]),
    );
    expect(pullsFor('feature/retry')).toHaveLength(1);
  });

  it("fails with git's reason when the remote branch moved under the workspace", async () => {
    const { id, workspace } = await project();
    writeFiles(workspace, { 'moved.txt': 'ours\n' });
    const first = result((await run(id, { title: 'Moved', sourceBranch: 'feature/moved' })).job);

    // Someone else pushes to the branch.
    const other = join(dir, 'other-clone');
    git(['clone', '--quiet', '--branch', 'feature/moved', bare, other]);
    writeFiles(other, { 'moved.txt': 'theirs\n' });
    git(['commit', '--quiet', '-am', 'their change'], other);
    git(['push', '--quiet', 'origin', 'feature/moved'], other);
    const theirs = remoteSha('feature/moved');

    writeFiles(workspace, { 'moved.txt': 'ours again\n' });
    const { job } = await run(id, { title: 'Moved', sourceBranch: 'feature/moved' });
    expect(job).toMatchObject({ status: 'error', attempts: 1, result: null });
    expect(job.error).toMatch(
      /^push rejected: the remote branch feature\/moved moved since this workspace last saw it \(git: .*stale info/,
    );
    expect(remoteSha('feature/moved')).toBe(theirs);
    expect(theirs).not.toBe(first.headSha);

    // Once the branch is deleted on the remote (merged, say), it may be created again.
    git(['branch', '-D', 'feature/moved'], bare);
    github.pulls.filter((p) => p.head === 'feature/moved').forEach((p) => (p.state = 'closed'));
    const again = result((await run(id, { title: 'Moved', sourceBranch: 'feature/moved' })).job);
    expect(again.operation).toBe('created');
    expect(remoteSha('feature/moved')).toBe(again.headSha);
  });

  it('refuses a workspace in the middle of a merge, and one with conflicts, naming them', async () => {
    const { id, workspace } = await project();
    git(['checkout', '--quiet', '-b', 'side'], workspace);
    writeFiles(workspace, { 'README.md': 'side\n' });
    git(['commit', '--quiet', '-am', 'side'], workspace);
    git(['checkout', '--quiet', 'main'], workspace);
    writeFiles(workspace, { 'README.md': 'main\n' });
    git(['commit', '--quiet', '-am', 'main'], workspace);
    expect(() => git(['merge', '--quiet', 'side'], workspace)).toThrow();
    const merging = await run(id, { title: 'Merge', sourceBranch: 'feature/merge' });
    expect(merging.job).toMatchObject({
      status: 'error',
      attempts: 1,
      error: 'the workspace is in the middle of a merge: finish or abort it first',
    });

    // A stash that did not apply cleanly: conflicts without a merge in progress.
    git(['merge', '--abort'], workspace);
    writeFiles(workspace, { 'README.md': 'stashed\n' });
    git(['stash', '--quiet'], workspace);
    writeFiles(workspace, { 'README.md': 'committed\n' });
    git(['commit', '--quiet', '-am', 'committed'], workspace);
    expect(() => git(['stash', 'pop', '--quiet'], workspace)).toThrow();
    const conflicted = await run(id, { title: 'Conflicts', sourceBranch: 'feature/conflicts' });
    expect(conflicted.job).toMatchObject({
      status: 'error',
      attempts: 1,
      error: 'the workspace has unresolved conflicts in README.md',
    });
    expect(remoteHas('feature/conflicts')).toBe(false);
  });

  it('refuses bad params at submit with 400 naming the field', async () => {
    const { id } = await project();
    const ok = { title: 'T', sourceBranch: 'feature/ok' };
    const cases: [object, string | RegExp][] = [
      [
        { ...ok, sourceBranch: 'a..b' },
        'params.sourceBranch is not a valid git branch name: it contains ".."',
      ],
      [
        { ...ok, sourceBranch: '-f' },
        'params.sourceBranch is not a valid git branch name: it starts with "-"',
      ],
      [
        { ...ok, sourceBranch: 'my branch' },
        /^params\.sourceBranch is not a valid git branch name: it contains a space/,
      ],
      [{ ...ok, sourceBranch: 'main~1' }, /sourceBranch .*"~"/],
      [{ ...ok, sourceBranch: 'a:b' }, /sourceBranch .*":"/],
      [{ ...ok, sourceBranch: 'x.lock' }, /sourceBranch .*\.lock/],
      [{ ...ok, sourceBranch: 'a/.hidden' }, /sourceBranch .*starts with "\."/],
      [{ ...ok, sourceBranch: 'trailing/' }, /sourceBranch .*"\/"/],
      [{ ...ok, sourceBranch: 'a@{1}' }, /sourceBranch .*"@\{"/],
      [{ ...ok, sourceBranch: 'HEAD' }, /sourceBranch .*reserved/],
      [{ ...ok, sourceBranch: '' }, /sourceBranch/],
      [{ ...ok, targetBranch: 'b..c' }, /^params\.targetBranch is not a valid git branch name/],
      [
        { ...ok, targetBranch: 'feature/ok' },
        'params.targetBranch must differ from params.sourceBranch',
      ],
      [{ ...ok, body: 'a', description: 'b' }, /^params\.description is an alias of params\.body/],
      [{ ...ok, title: 't'.repeat(257) }, /title/],
      [{ ...ok, title: undefined }, /title/],
      [{ ...ok, body: 'b'.repeat(65_537) }, /body/],
      [{ ...ok, commitId: 'not-a-sha' }, /commitId must be a commit id/],
      [{ ...ok, labels: 'bug' }, /labels/],
      [{ ...ok, reviewers: ['bad login!'] }, /reviewers must be GitHub logins/],
      [{ ...ok, teamReviewers: ['acme/core'] }, /teamReviewers must be team slugs/],
      [{ ...ok, teamReviewers: Array(16).fill('t') }, /teamReviewers must contain no more than 15/],
      [{ ...ok, draft: 'yes' }, /draft/],
      [{ ...ok, token: 'x' }, /token/],
    ];
    for (const [params, message] of cases) {
      expectError(await api.submit(KIND, { projectId: id, params }), 400, message);
    }
    expect((await api.listAll({ kind: KIND })).filter((j) => j.projectId === id)).toEqual([]);
  });

  it("answers 404 for another user's project", async () => {
    const { id } = await project();
    const mallory = new Api(stack, uniqueUser('mallory'));
    expectError(
      await mallory.submit(KIND, { projectId: id, params: { title: 'T', sourceBranch: 'x/y' } }),
      404,
    );
  });

  it('keeps the token out of .git/config, the workspaces and every stored text', async () => {
    expect(jobs.length).toBeGreaterThan(10);
    const secrets = [TOKEN, basicTokenAuth(TOKEN).slice('Basic '.length)];
    const seen: string[] = [];
    for (const id of jobs) {
      const [job, events, log] = await Promise.all([
        api.get(`/jobs/${id}`),
        api.get(`/jobs/${id}/events`).query({ limit: 1000 }),
        api.get(`/jobs/${id}/log`),
      ]);
      seen.push(JSON.stringify(job.body), JSON.stringify(events.body), log.text);
    }
    const db = new Client({ connectionString: stack.db.url });
    await db.connect();
    try {
      for (const table of ['Job', 'JobEvent', 'JobLog', 'Project']) {
        const rows = await db.query<{ row: string }>(
          `SELECT row_to_json(t)::text AS row FROM "${table}" t`,
        );
        expect(rows.rows.length).toBeGreaterThan(0);
        seen.push(...rows.rows.map((r) => r.row));
      }
    } finally {
      await db.end();
    }
    for (const text of seen) for (const secret of secrets) expect(text).not.toContain(secret);

    // Every file of every workspace, .git/config first among them.
    const files = walk(stack.config.workspacesDir);
    const configs = files.filter((file) => file.endsWith('/.git/config'));
    expect(configs.length).toBeGreaterThan(5);
    for (const file of configs)
      expect(readFileSync(file, 'utf8')).not.toMatch(/extraheader|token/i);
    for (const file of files) {
      const content = readFileSync(file);
      for (const secret of secrets) {
        expect({ file, found: content.includes(secret) }).toEqual({ file, found: false });
      }
    }
  });
});

function walk(root: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(root)) {
    const path = join(root, entry);
    if (statSync(path).isDirectory()) out.push(...walk(path));
    else out.push(path);
  }
  return out;
}
