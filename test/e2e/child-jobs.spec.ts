import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack, TEST_JWT_SECRET, type TestStack } from '../support/app';
import { Api, expectError, uniqueUser, type JobBody } from '../support/api';
import {
  COUNT_DIR_ENV,
  countedKind,
  hastyStepsKind,
  runsOf,
  stepsKind,
  workspaceStepsKind,
  type StepSpec,
} from '../support/child-kinds';
import { ConveyorProcess, killAllConveyors } from '../support/conveyor-process';
import { readJournal, workspaceEchoKind } from '../support/workspace-kinds';
import { waitFor } from '../support/wait';

interface StepView {
  id: string;
  key: string;
  kind: string;
  status: string;
}

type ParentBody = JobBody & { parentId: string | null; children?: StepView[] };

const FINISH_MS = 60_000;

function counted(key: string, text: string, extra: object = {}): StepSpec {
  return { key, kind: 'counted', params: { text, ...extra } };
}

/** The counter files of `counted` steps: one per test file, removed afterwards. */
async function countDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'conveyor-child-count-'));
  process.env[COUNT_DIR_ENV] = dir;
  return dir;
}

describe('child jobs (ctx.child), one process', () => {
  let stack: TestStack;
  let api: Api;
  let dir: string;
  let n = 0;
  const text = () => `run-${(n += 1)}-${Date.now()}`;

  beforeAll(async () => {
    dir = await countDir();
    stack = await startStack(
      'child-jobs',
      [countedKind, stepsKind, hastyStepsKind, workspaceStepsKind, workspaceEchoKind],
      { JOB_CONCURRENCY: '2', QUEUE_RATE_LIMIT_MAX: '1000' },
    );
    api = new Api(stack, uniqueUser('children'));
  });

  afterAll(async () => {
    await stack?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function finished(id: string): Promise<ParentBody> {
    return (await api.waitForStatus(id, ['done', 'error', 'cancelled'], FINISH_MS)) as ParentBody;
  }

  async function steps(id: string): Promise<ParentBody[]> {
    return (await api.list({ parentId: id })).items as ParentBody[];
  }

  it('runs steps as ordinary jobs: results, parentId on rows and events, the parent lists its steps', async () => {
    const [a, b] = [text(), text()];
    const parent = await api.submitOk('steps', { steps: [counted('a', a), counted('b', b)] });
    const done = await finished(parent.id);
    expect(done).toMatchObject({ status: 'done', parentId: null });
    expect(done.result).toMatchObject({
      results: [{ text: a }, { text: b }],
    });
    expect(done.children?.map(({ key, kind, status }) => ({ key, kind, status }))).toEqual([
      { key: 'a', kind: 'counted', status: 'done' },
      { key: 'b', kind: 'counted', status: 'done' },
    ]);
    const listed = await steps(parent.id);
    expect(listed.map((job) => job.id).sort()).toEqual(done.children?.map((s) => s.id).sort());
    for (const step of listed) {
      expect(step).toMatchObject({ parentId: parent.id, projectId: parent.projectId });
      expect(step.children).toBeUndefined();
      const events = await api.allEvents(step.id);
      expect(events.map((e) => e.status)).toEqual(['created', 'processing', 'done']);
      for (const event of events) expect(event).toMatchObject({ parentId: parent.id });
    }
    expect((await api.allEvents(parent.id)).some((e) => 'parentId' in e)).toBe(false);
    expect([runsOf(dir, a), runsOf(dir, b)]).toEqual([1, 1]);
  });

  it("another user can neither see nor cancel a step, nor list a parent's steps", async () => {
    const parent = await api.submitOk('steps', {
      steps: [counted('slow', text(), { runMs: 60_000 })],
    });
    const [step] = await waitFor('the step to start', async () => {
      const found = await steps(parent.id);
      return found[0]?.status === 'processing' ? found : undefined;
    });
    const other = new Api(stack, uniqueUser('stranger'));
    expectError(await other.get(`/jobs/${step.id}`), 404);
    expectError(await other.post(`/jobs/${step.id}/cancel`), 404);
    expect((await other.list({ parentId: parent.id })).items).toEqual([]);
    expectError(await api.get('/jobs').query({ parentId: 'nope' }), 400, /parentId/);
    await api.post(`/jobs/${parent.id}/cancel`).expect(200);
    expect(await finished(step.id)).toMatchObject({ status: 'cancelled' });
  });

  it('refuses a step with bad params, an unknown kind, or nesting past 3, without retrying the parent', async () => {
    const bad = await api.submitOk('steps', {
      steps: [{ key: 'x', kind: 'counted', params: { text: 42 } }],
    });
    const unknown = await api.submitOk('steps', {
      steps: [{ key: 'x', kind: 'no-such-kind', params: {} }],
    });
    const nest = (depth: number): StepSpec[] =>
      depth === 0 ? [] : [{ key: `d${depth}`, kind: 'steps', params: { steps: nest(depth - 1) } }];
    const tooDeep = await api.submitOk('steps', { steps: nest(4) });
    const deepest = await api.submitOk('steps', { steps: nest(3) });

    const badDone = await finished(bad.id);
    expect(badDone).toMatchObject({ status: 'error', attempts: 1 });
    expect(badDone.error).toMatch(/step "x" refused: .*params\.text/);
    expect(await steps(bad.id)).toEqual([]);
    expect((await finished(unknown.id)).error).toMatch(/step "x" refused: .*no-such-kind/);
    expect(await finished(deepest.id)).toMatchObject({ status: 'done' });
    const deep = await finished(tooDeep.id);
    expect(deep).toMatchObject({ status: 'error', attempts: 1 });
    expect(deep.error).toMatch(/nest at most 3 deep/);
  });

  it('a failed or cancelled step rejects ctx.child with a typed error', async () => {
    const parent = await api.submitOk('steps', {
      catchFailures: true,
      steps: [
        counted('fails', text(), { fail: 'fatal' }),
        counted('cancelled', text(), { runMs: 60_000 }),
        counted('after', text()),
      ],
    });
    const slow = await waitFor('the slow step to start', async () =>
      ((await api.job(parent.id)) as ParentBody).children?.find(
        (s) => s.key === 'cancelled' && s.status === 'processing',
      ),
    );
    await api.post(`/jobs/${slow.id}/cancel`).expect(200);
    const done = await finished(parent.id);
    const [failed, cancelled] = ['fails', 'cancelled'].map((key) =>
      done.children!.find((s) => s.key === key)!,
    );
    expect(done).toMatchObject({ status: 'done' });
    expect(done.result).toMatchObject({
      results: [
        { failed: 'ChildJobFailedError', childId: failed.id, status: 'error' },
        { failed: 'ChildJobCancelledError', childId: cancelled.id, status: 'cancelled' },
        { text: expect.any(String) },
      ],
    });
  });

  it('cancelling the parent cancels its running step; its later steps never start', async () => {
    const later = text();
    const parent = await api.submitOk('steps', {
      steps: [counted('slow', text(), { runMs: 60_000 }), counted('later', later)],
    });
    const [step] = await waitFor('the step to start', async () => {
      const found = await steps(parent.id);
      return found[0]?.status === 'processing' ? found : undefined;
    });
    await api.post(`/jobs/${parent.id}/cancel`).expect(200);
    expect(await finished(parent.id)).toMatchObject({ status: 'cancelled' });
    expect(await finished(step.id)).toMatchObject({ status: 'cancelled' });
    expect(await steps(parent.id)).toHaveLength(1);
    expect(runsOf(dir, later)).toBe(0);
  });

  it("the parent's timeout cancels its running step and fails the parent", async () => {
    const parent = await api.submitOk('hasty-steps', {
      steps: [counted('slow', text(), { runMs: 60_000 })],
    });
    const done = await finished(parent.id);
    expect(done).toMatchObject({ status: 'error' });
    expect(done.error).toMatch(/timed out/);
    const [step] = await steps(parent.id);
    expect(await finished(step.id)).toMatchObject({ status: 'cancelled' });
  });

  it('a retried parent re-runs a step that failed in its earlier run, and not the ones that were done', async () => {
    const [first, flaky] = [text(), text()];
    const parent = await api.submitOk('steps', {
      steps: [counted('first', first), counted('flaky', flaky, { fail: 'first-run' })],
    });
    const failed = await finished(parent.id);
    expect(failed).toMatchObject({ status: 'error' });
    expect(failed.error).toMatch(/step "flaky" .*failed/);
    await api.post(`/jobs/${parent.id}/retry`).expect(202);
    const done = await finished(parent.id);
    expect(done).toMatchObject({ status: 'done' });
    expect(done.children?.map((s) => s.status)).toEqual(['done', 'done']);
    expect([runsOf(dir, first), runsOf(dir, flaky)]).toEqual([1, 2]);
  });

  it.each([
    ['another kind', (key: string) => counted(key, text(), { runMs: 200 })],
    ['their own kind', (key: string) => ({ key, kind: 'steps', params: { steps: [] } })],
  ])(
    'no starvation: 4 parents and 2 slots, steps of %s, all finish',
    async (_label, step: (key: string) => StepSpec) => {
      const parents = await Promise.all(
        Array.from({ length: 4 }, (_, i) =>
          api.submitOk('steps', { steps: [step(`s${i}`), step(`t${i}`)] }),
        ),
      );
      for (const parent of parents) {
        expect(await finished(parent.id)).toMatchObject({ status: 'done' });
      }
    },
  );

  it("a workspace parent's steps run inside its lease; another job of the project waits for the parent", async () => {
    const created = (await api.post('/projects', { name: `steps-${text()}` }).expect(201)).body as {
      id: string;
      workspacePath?: string;
    };
    const project = await waitFor('the project to be ready', async () => {
      const body = (await api.get(`/projects/${created.id}`).expect(200)).body as {
        id: string;
        status: string;
      };
      return body.status === 'ready' ? body : undefined;
    });
    const echo = (key: string) => ({
      key,
      kind: 'workspace-echo',
      params: { text: key, runMs: 300 },
    });
    const parent = await api.submitOk(
      'workspace-steps',
      { steps: [echo('one'), echo('two')] },
      { projectId: project.id },
    );
    await waitFor('the first step to start', async () => (await steps(parent.id))[0]);
    const other = await api.submitOk(
      'workspace-echo',
      { text: 'other', runMs: 0 },
      { projectId: project.id },
    );
    const done = await finished(parent.id);
    expect(done).toMatchObject({ status: 'done' });
    const after = await finished(other.id);
    expect(after).toMatchObject({ status: 'done' });
    expect(Date.parse(after.startedAt!)).toBeGreaterThanOrEqual(Date.parse(done.finishedAt!));
    const journal = readJournal(join(stack.config.workspacesDir, project.id));
    const ids = done.children!.map((s) => s.id);
    expect(journal.map((entry) => `${entry.event} ${entry.jobId}`)).toEqual([
      `start ${ids[0]}`,
      `end ${ids[0]}`,
      `start ${ids[1]}`,
      `end ${ids[1]}`,
      `start ${other.id}`,
      `end ${other.id}`,
    ]);
  });
});

describe('child jobs: a parent recovered after its worker is SIGKILLed', () => {
  let stack: TestStack;
  let api: Api;
  let dir: string;

  beforeAll(async () => {
    dir = await countDir();
    stack = await startStack('child-jobs-kill', [countedKind, stepsKind], { APP_ROLE: 'api' });
    api = new Api(stack, uniqueUser('children-kill'));
  });

  afterAll(async () => {
    await killAllConveyors();
    await stack?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function worker(label: string): Promise<ConveyorProcess> {
    const proc = new ConveyorProcess(
      label,
      {
        APP_ROLE: 'worker',
        DATABASE_URL: stack.db.url,
        QUEUE_PREFIX: stack.prefix,
        JWT_SECRET: TEST_JWT_SECRET,
        LOG_LEVEL: 'warn',
        JOB_LOCK_MS: '2000',
        JOB_STALLED_INTERVAL_MS: '1000',
        [COUNT_DIR_ENV]: dir,
      },
      'test/support/conveyor-children-main.ts',
    );
    await proc.waitForReady().catch(async (error: unknown) => {
      await proc.kill();
      throw error;
    });
    return proc;
  }

  it('never runs a finished step again, and waits for the unfinished one', async () => {
    const first = `first-${Date.now()}`;
    const second = `second-${Date.now()}`;
    const a = await worker('worker A');
    const parent = await api.submitOk('steps', {
      steps: [counted('first', first), counted('second', second, { runMs: 3000 })],
    });
    await waitFor('the second step to run', async () => runsOf(dir, second) === 1, FINISH_MS);
    a.signal('SIGKILL');
    await a.exited;
    const b = await worker('worker B');
    const done = (await api
      .waitForStatus(parent.id, ['done', 'error', 'cancelled'], FINISH_MS)
      .catch((error: Error) => {
        throw new Error(`${error.message}\n${b.describe()}`);
      })) as ParentBody;
    expect(done).toMatchObject({ status: 'done', attempts: 2 });
    expect(done.result).toMatchObject({ results: [{ text: first }, { text: second }], attempt: 2 });
    expect(runsOf(dir, first)).toBe(1);
    expect(runsOf(dir, second)).toBeGreaterThanOrEqual(1);
    expect(done.children?.map((s) => s.status)).toEqual(['done', 'done']);
  });
});
