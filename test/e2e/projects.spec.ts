import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JOB_KINDS } from '../../src/job-kinds';
import { startStack, type TestStack } from '../support/app';
import { Api, expectError, uniqueUser, type JobBody } from '../support/api';
import { git, GitHttpsServer, makeBareRepo } from '../support/fixture-repos';
import { killAll, processesIn, waitNoProcesses } from '../support/processes';
import { waitFor } from '../support/wait';

interface ProjectBody {
  id: string;
  name: string;
  repoUrl: string | null;
  defaultBranch: string;
  status: 'cloning' | 'ready' | 'error';
  error: string | null;
  createdAt: string;
  updatedAt: string;
}

const PROJECT_KEYS = [
  'createdAt',
  'defaultBranch',
  'error',
  'hasGithubToken',
  'id',
  'name',
  'repoUrl',
  'status',
  'updatedAt',
];

/** A clone that fails must say so within this bound: git never prompts, so it never hangs. */
const CLONE_BOUND_MS = 30_000;

/** REST calls on /api/v1/projects as one user. */
class Projects extends Api {
  constructor(
    private readonly testStack: TestStack,
    user: string,
  ) {
    super(testStack, user);
  }

  create(body: object) {
    return this.post('/projects', body);
  }

  async createOk(body: object): Promise<ProjectBody> {
    const res = await this.create(body);
    expect({ status: res.status, body: res.body as unknown }).toMatchObject({ status: 201 });
    const project = res.body as ProjectBody;
    expect(res.headers.location).toBe(`/api/v1/projects/${project.id}`);
    expect(Object.keys(project).sort()).toEqual(PROJECT_KEYS);
    return project;
  }

  async project(id: string): Promise<ProjectBody> {
    const res = await this.get(`/projects/${id}`);
    expect({ status: res.status, body: res.body as unknown }).toMatchObject({ status: 200 });
    return res.body as ProjectBody;
  }

  delete(id: string) {
    return this.testStack.http().delete(`/api/v1/projects/${id}`).set('Authorization', this.auth);
  }

  waitForProject(
    id: string,
    statuses: ProjectBody['status'][],
    timeoutMs = CLONE_BOUND_MS,
  ): Promise<ProjectBody> {
    return waitFor(
      `project ${id} to be ${statuses.join('|')}`,
      async () => {
        const project = await this.project(id);
        return statuses.includes(project.status) ? project : undefined;
      },
      timeoutMs,
    );
  }
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function headBranch(workspace: string): string {
  return git(['-C', workspace, 'symbolic-ref', '--short', 'HEAD']).trim();
}

describe('projects (ALLOW_LOCAL_REPOS=true)', () => {
  let dir: string;
  let stack: TestStack;
  let https: GitHttpsServer;
  let bare: string;
  let hangRepo: string;

  function workspaceOf(id: string): string {
    return join(stack.config.workspacesDir, id);
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'conveyor-projects-fixtures-'));
    bare = makeBareRepo(
      dir,
      'widgets',
      { 'README.md': '# widgets\n', 'src/index.js': 'module.exports = 42;\n' },
      { branch: 'develop', branches: { feature: { 'FEATURE.md': 'on the feature branch\n' } } },
    );
    hangRepo = makeBareRepo(dir, 'hang', {
      'hang.js': "console.log('started');\nsetInterval(() => {}, 1 << 30);\n",
    });
    stack = await startStack('projects', JOB_KINDS, { ALLOW_LOCAL_REPOS: 'true' });
    https = await GitHttpsServer.start(dir, dir);
    https.trustFrom(join(stack.config.workspacesDir, '.home'));
  });
  afterAll(async () => {
    killAll(processesIn(stack.config.workspacesDir));
    await https.close();
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates an empty project: ready at once, a git repository on the default branch', async () => {
    const alice = new Projects(stack, uniqueUser('alice'));
    const project = await alice.createOk({ name: 'scratch' });
    expect(project).toMatchObject({
      name: 'scratch',
      repoUrl: null,
      defaultBranch: 'main',
      status: 'ready',
      error: null,
    });
    const workspace = workspaceOf(project.id);
    expect(git(['-C', workspace, 'rev-parse', '--is-inside-work-tree']).trim()).toBe('true');
    expect(headBranch(workspace)).toBe('main');
    expect(await alice.project(project.id)).toEqual(project);

    const trunk = await alice.createOk({ name: 'trunk-based', defaultBranch: 'trunk' });
    expect(trunk).toMatchObject({ status: 'ready', defaultBranch: 'trunk' });
    expect(headBranch(workspaceOf(trunk.id))).toBe('trunk');
  });

  it.each([
    ['a local path', () => bare],
    ['a file:// URL', () => `file://${bare}`],
  ])(
    "clones %s in the background: cloning, then ready on the remote's default branch",
    async (_label, repoUrl) => {
      const alice = new Projects(stack, uniqueUser('alice'));
      const created = await alice.createOk({ name: 'widgets', repoUrl: repoUrl() });
      expect(created).toMatchObject({ status: 'cloning', repoUrl: repoUrl(), error: null });
      const ready = await alice.waitForProject(created.id, ['ready', 'error']);
      expect(ready).toMatchObject({ status: 'ready', defaultBranch: 'develop', error: null });
      const workspace = workspaceOf(created.id);
      expect(headBranch(workspace)).toBe('develop');
      expect(readFileSync(join(workspace, 'README.md'), 'utf8')).toBe('# widgets\n');
      expect(git(['-C', workspace, 'log', '-1', '--format=%s']).trim()).toBe('fixture widgets');
      expect(existsSync(join(workspace, 'FEATURE.md'))).toBe(false);
    },
  );

  it('checks out the defaultBranch asked for', async () => {
    const alice = new Projects(stack, uniqueUser('alice'));
    const created = await alice.createOk({
      name: 'feature',
      repoUrl: `file://${bare}`,
      defaultBranch: 'feature',
    });
    const ready = await alice.waitForProject(created.id, ['ready', 'error']);
    expect(ready).toMatchObject({ status: 'ready', defaultBranch: 'feature' });
    expect(headBranch(workspaceOf(created.id))).toBe('feature');
    expect(existsSync(join(workspaceOf(created.id), 'FEATURE.md'))).toBe(true);
  });

  it('ends in error when the defaultBranch is not on the remote, leaving no workspace', async () => {
    const alice = new Projects(stack, uniqueUser('alice'));
    const created = await alice.createOk({ name: 'nope', repoUrl: bare, defaultBranch: 'nope' });
    const failed = await alice.waitForProject(created.id, ['ready', 'error']);
    expect(failed.status).toBe('error');
    expect(failed.error).toMatch(/^clone failed: .*Remote branch nope not found/);
    expect(existsSync(workspaceOf(created.id))).toBe(false);
  });

  it('clones over https, and refuses jobs and deletion while the clone runs', async () => {
    const alice = new Projects(stack, uniqueUser('alice'));
    https.hold();
    let created: ProjectBody;
    try {
      created = await alice.createOk({ name: 'over-https', repoUrl: https.url('widgets.git') });
      expect(created.status).toBe('cloning');
      // git is now waiting on the server: the project is deterministically still cloning.
      await waitFor('git to ask the server', async () => https.heldCount > 0);
      expect((await alice.project(created.id)).status).toBe('cloning');

      const submit = await alice.submit('test-execution', {
        projectId: created.id,
        params: { testCommand: 'node --test' },
      });
      expectError(submit, 409, `project ${created.id} is not ready (status cloning)`);
      expectError(await alice.delete(created.id), 409, 'project is still cloning');
    } finally {
      https.release();
    }
    const ready = await alice.waitForProject(created.id, ['ready', 'error']);
    expect(ready).toMatchObject({ status: 'ready', defaultBranch: 'develop', error: null });
    expect(readFileSync(join(workspaceOf(created.id), 'src/index.js'), 'utf8')).toBe(
      'module.exports = 42;\n',
    );
    expect(https.requests).toContain('/widgets.git/info/refs');
  });

  it('fails a repository that needs credentials with a clear error instead of prompting', async () => {
    const alice = new Projects(stack, uniqueUser('alice'));
    const created = await alice.createOk({
      name: 'private',
      repoUrl: https.url('private/secret.git'),
    });
    const failed = await alice.waitForProject(created.id, ['ready', 'error']);
    expect(failed.status).toBe('error');
    expect(failed.error).toMatch(
      /^clone failed: .*(Authentication failed|could not read Username)/,
    );
    expect(existsSync(workspaceOf(created.id))).toBe(false);
  });

  it.each([
    [
      'https',
      (port: number) => `https://127.0.0.1:${port}/x.git`,
      /Failed to connect|Couldn't connect/,
    ],
    ['ssh', (port: number) => `ssh://git@127.0.0.1:${port}/x.git`, /Connection refused/],
  ])(
    'fails an unreachable %s repository with a clear error, without hanging',
    async (_label, url, reason) => {
      const alice = new Projects(stack, uniqueUser('alice'));
      const created = await alice.createOk({
        name: 'unreachable',
        repoUrl: url(await closedPort()),
      });
      const failed = await alice.waitForProject(created.id, ['ready', 'error']);
      expect(failed.status).toBe('error');
      expect(failed.error).toMatch(/^clone failed: /);
      expect(failed.error).toMatch(reason);
    },
  );

  it('refuses jobs on a project in error (409) and deletes it (204)', async () => {
    const alice = new Projects(stack, uniqueUser('alice'));
    const created = await alice.createOk({
      name: 'broken',
      repoUrl: `https://127.0.0.1:${await closedPort()}/x.git`,
    });
    await alice.waitForProject(created.id, ['error']);
    const submit = await alice.submit('test-execution', {
      projectId: created.id,
      params: { testCommand: 'node --test' },
    });
    expectError(submit, 409, `project ${created.id} is not ready (status error)`);
    expect((await alice.delete(created.id)).status).toBe(204);
    expectError(await alice.get(`/projects/${created.id}`), 404);
  });

  it.each([
    ['name missing', {}, /name/],
    ['name empty', { name: '' }, /name/],
    ['name too long', { name: 'n'.repeat(201) }, /name/],
    ['name not a string', { name: 42 }, /name/],
    ['repoUrl over ftp', { name: 'x', repoUrl: 'ftp://example.com/x.git' }, /repoUrl/],
    ['repoUrl relative', { name: 'x', repoUrl: '../x' }, /repoUrl/],
    ['repoUrl an option', { name: 'x', repoUrl: '--upload-pack=touch' }, /repoUrl/],
    ['repoUrl with a space', { name: 'x', repoUrl: 'https://example.com/a b.git' }, /repoUrl/],
    ['repoUrl too long', { name: 'x', repoUrl: `https://e.com/${'a'.repeat(2000)}` }, /repoUrl/],
    ['defaultBranch with ..', { name: 'x', defaultBranch: 'a..b' }, /defaultBranch/],
    ['defaultBranch an option', { name: 'x', defaultBranch: '-f' }, /defaultBranch/],
    ['defaultBranch with a space', { name: 'x', defaultBranch: 'my branch' }, /defaultBranch/],
    ['an unknown field', { name: 'x', workspacePath: '/etc' }, /workspacePath/],
  ])('answers 400 naming the field: %s', async (_label, body, field) => {
    const alice = new Projects(stack, uniqueUser('alice'));
    expectError(await alice.create(body), 400, field);
    const list = await alice.get('/projects');
    expect(list.body).toEqual([]);
  });

  it("lists, gets and deletes the caller's projects; another user's are 404", async () => {
    const alice = new Projects(stack, uniqueUser('alice'));
    const bob = new Projects(stack, uniqueUser('bob'));
    const first = await alice.createOk({ name: 'first' });
    const second = await alice.createOk({ name: 'second' });
    const bobs = await bob.createOk({ name: 'bobs' });

    const listed = await alice.get('/projects');
    expect(listed.status).toBe(200);
    expect((listed.body as ProjectBody[]).map((p) => p.id)).toEqual([second.id, first.id]);
    expect((await bob.get('/projects')).body).toEqual([bobs]);

    expectError(await bob.get(`/projects/${first.id}`), 404, `project ${first.id} not found`);
    expectError(await bob.delete(first.id), 404, `project ${first.id} not found`);
    expect(existsSync(workspaceOf(first.id))).toBe(true);
    expectError(await alice.get('/projects/not-a-uuid'), 404);
    expectError(await alice.get('/projects/00000000-0000-4000-8000-000000000000'), 404);

    expect((await alice.delete(first.id)).status).toBe(204);
    expect(existsSync(workspaceOf(first.id))).toBe(false);
    expectError(await alice.get(`/projects/${first.id}`), 404);
    expectError(await alice.delete(first.id), 404);
    expect(((await alice.get('/projects')).body as ProjectBody[]).map((p) => p.id)).toEqual([
      second.id,
    ]);
  });

  it("refuses a job on another user's project, or on none, with 404", async () => {
    const alice = new Projects(stack, uniqueUser('alice'));
    const mallory = new Projects(stack, uniqueUser('mallory'));
    const project = await alice.createOk({ name: 'mine' });
    const params = { testCommand: 'node --test' };
    expectError(
      await mallory.submit('test-execution', { projectId: project.id, params }),
      404,
      `project ${project.id} not found`,
    );
    expectError(await alice.submit('test-execution', { projectId: 'p1', params }), 404);
    expectError(
      await alice.submit('test-execution', {
        projectId: '00000000-0000-4000-8000-000000000000',
        params,
      }),
      404,
    );
    expect(await mallory.listAll()).toEqual([]);
  });

  it('refuses DELETE while jobs of the project are queued or running, then removes the workspace', async () => {
    const alice = new Projects(stack, uniqueUser('alice'));
    const created = await alice.createOk({ name: 'busy', repoUrl: hangRepo });
    await alice.waitForProject(created.id, ['ready']);
    const workspace = workspaceOf(created.id);
    const submit = async (): Promise<JobBody> => {
      const res = await alice.submit('test-execution', {
        projectId: created.id,
        params: { testCommand: 'node hang.js', timeoutMs: 110_000 },
      });
      expect({ status: res.status, body: res.body as unknown }).toMatchObject({ status: 202 });
      return res.body as JobBody;
    };

    const running = await submit();
    await alice.waitForStatus(running.id, ['processing']);
    await waitFor('the command to start', async () =>
      (await alice.get(`/jobs/${running.id}/log`)).text.includes('started'),
    );
    expectError(
      await alice.delete(created.id),
      409,
      'project has 1 queued or running job(s); cancel them first',
    );

    // A second job waits for the workspace: queued, and still a reason to refuse.
    const queued = await submit();
    expect((await alice.job(queued.id)).status).toBe('queued');
    expectError(await alice.delete(created.id), 409, /project has 2 queued or running job/);

    expect((await alice.post(`/jobs/${running.id}/cancel`)).status).toBe(200);
    await alice.waitForStatus(running.id, ['cancelled']);
    // The second job now runs (the workspace is free).
    await alice.waitForStatus(queued.id, ['processing']);
    expectError(await alice.delete(created.id), 409, /project has 1 queued or running job/);
    expect((await alice.post(`/jobs/${queued.id}/cancel`)).status).toBe(200);
    await alice.waitForStatus(queued.id, ['cancelled']);
    await waitNoProcesses('process in the workspace', () => processesIn(workspace));

    expect((await alice.delete(created.id)).status).toBe(204);
    expect(existsSync(workspace)).toBe(false);
    expectError(await alice.get(`/projects/${created.id}`), 404);
    // The jobs stay readable after their project is gone.
    expect((await alice.job(running.id)).status).toBe('cancelled');
  });
});

describe('projects (local repositories not allowed)', () => {
  let dir: string;
  let stack: TestStack;
  let bare: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'conveyor-projects-strict-'));
    bare = makeBareRepo(dir, 'local', { 'README.md': 'local\n' });
    stack = await startStack('projects-strict', JOB_KINDS);
  });
  afterAll(async () => {
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['a local path', () => bare],
    ['a file:// URL', () => `file://${bare}`],
  ])('refuses %s with 400 naming ALLOW_LOCAL_REPOS', async (_label, repoUrl) => {
    const alice = new Projects(stack, uniqueUser('alice'));
    expectError(
      await alice.create({ name: 'local', repoUrl: repoUrl() }),
      400,
      'repoUrl: local paths and file:// need ALLOW_LOCAL_REPOS=true',
    );
    expect((await alice.get('/projects')).body).toEqual([]);
  });

  it('refuses a plain http:// URL with 400 naming ALLOW_LOCAL_REPOS', async () => {
    const alice = new Projects(stack, uniqueUser('alice'));
    expectError(
      await alice.create({ name: 'plain', repoUrl: 'http://example.com/acme/x.git' }),
      400,
      'repoUrl: plain http:// needs ALLOW_LOCAL_REPOS=true',
    );
    expect((await alice.get('/projects')).body).toEqual([]);
  });

  it('still creates empty projects and accepts https URLs', async () => {
    const alice = new Projects(stack, uniqueUser('alice'));
    expect((await alice.createOk({ name: 'empty' })).status).toBe('ready');
    const remote = await alice.createOk({
      name: 'remote',
      repoUrl: `https://127.0.0.1:${await closedPort()}/x.git`,
    });
    expect(remote.status).toBe('cloning');
    await alice.waitForProject(remote.id, ['error']);
  });
});
