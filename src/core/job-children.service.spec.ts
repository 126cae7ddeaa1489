import { BadRequestException } from '@nestjs/common';
import type { Job } from '../generated/prisma/client';
import type { ChildJobWaiterService } from './child-job-waiter.service';
import { JobChildrenService, type ParentRun } from './job-children.service';
import {
  ChildJobCancelledError,
  ChildJobFailedError,
  ChildJobRefusedError,
  JobCancelledError,
  JobTimeoutError,
} from './job.errors';
import { DependencyUnavailableError } from '../common/dependency.errors';
import type { JobLifecycleService } from './job-lifecycle.service';
import type { JobQueueService } from './job-queue.service';
import type { JobRepository } from './job.repository';
import type { JobService } from './job.service';
import type { JobChange } from './job-transition';

const PARENT = row({ id: 'parent', parentId: null, kind: 'steps', status: 'processing' });

function row(fields: Partial<Job>): Job {
  return {
    userId: 'u',
    projectId: 'p',
    priority: 5,
    parentId: 'parent',
    kind: 'echo',
    status: 'queued',
    result: null,
    error: null,
    ...fields,
  } as Job;
}

function setup(existing: Job[] = [], parent: Job = PARENT) {
  const rows = new Map([parent, ...existing].map((job) => [job.id, job]));
  const finishAs = new Map<string, Partial<Job>>();
  const jobs = {
    findById: jest.fn((id: string) => Promise.resolve(rows.get(id) ?? null)),
    findChild: jest.fn((parentId: string, key: string) =>
      Promise.resolve(
        [...rows.values()].find((job) => job.parentId === parentId && job.childKey === key) ?? null,
      ),
    ),
    children: jest.fn((parentId: string) =>
      Promise.resolve(
        [...rows.values()].filter(
          (job) => job.parentId === parentId && ['queued', 'processing'].includes(job.status),
        ),
      ),
    ),
  };
  const submits = {
    submit: jest.fn((_user: string, kind: string, _body: object, _key: undefined, step) => {
      const { parentId, childKey } = step as { parentId: string; childKey: string };
      const job = row({ id: `${childKey}-job`, kind, parentId, childKey });
      rows.set(job.id, job);
      return Promise.resolve({ job, created: true });
    }),
  };
  const lifecycle = {
    apply: jest.fn((id: string, change: JobChange) => {
      const job = rows.get(id)!;
      if (change.type === 'cancelled') {
        Object.assign(job, { status: 'cancelled' });
        return Promise.resolve(job);
      }
      if (change.type !== 'requeued') return Promise.resolve(null);
      Object.assign(job, { status: 'queued', error: null });
      return Promise.resolve(job);
    }),
  };
  const queues = { requeue: jest.fn(() => Promise.resolve()), cancel: jest.fn() };
  const waiter = {
    ended: jest.fn((id: string) => {
      Object.assign(rows.get(id)!, finishAs.get(id) ?? { status: 'done', result: { ok: id } });
      return Promise.resolve(rows.get(id)!);
    }),
  };
  const service = new JobChildrenService(
    jobs as unknown as JobRepository,
    submits as unknown as JobService,
    lifecycle as unknown as JobLifecycleService,
    queues as unknown as JobQueueService,
    waiter as unknown as ChildJobWaiterService,
  );
  const lent = { taken: 0, given: 0 };
  const controller = new AbortController();
  const run: ParentRun = {
    job: parent,
    signal: controller.signal,
    lendSlot: () => {
      lent.taken += 1;
      return () => (lent.given += 1);
    },
  };
  return {
    service,
    ...service.contextFor(run),
    jobs,
    submits,
    lifecycle,
    queues,
    waiter,
    finishAs,
    lent,
    rows,
    controller,
  };
}

describe('JobChildrenService (ctx.child)', () => {
  it('submits a new step as the parent, waits for it with its slot lent, and returns its result', async () => {
    const { child, childId, submits, lent } = setup();
    await expect(child('a', 'echo', { text: 'x' })).resolves.toEqual({ ok: 'a-job' });
    expect(childId('a')).toBe('a-job');
    expect(childId('b')).toBeUndefined();
    expect(submits.submit).toHaveBeenCalledWith(
      'u',
      'echo',
      { projectId: 'p', params: { text: 'x' }, priority: 'medium' },
      undefined,
      { parentId: 'parent', childKey: 'a' },
    );
    expect(lent).toEqual({ taken: 1, given: 1 });
  });

  it('returns a finished step by its key without starting it again', async () => {
    const done = row({ id: 'd', childKey: 'a', status: 'done', result: { n: 1 } });
    const { child, submits, waiter } = setup([done]);
    await expect(child('a', 'echo', {})).resolves.toEqual({ n: 1 });
    expect(submits.submit).not.toHaveBeenCalled();
    expect(waiter.ended).not.toHaveBeenCalled();
  });

  it('waits for a step that is still running', async () => {
    const running = row({ id: 'r', childKey: 'a', status: 'processing' });
    const { child, submits, waiter } = setup([running]);
    await expect(child('a', 'echo', {})).resolves.toEqual({ ok: 'r' });
    expect(submits.submit).not.toHaveBeenCalled();
    expect(waiter.ended).toHaveBeenCalledWith('r', expect.any(AbortSignal));
  });

  it.each(['error', 'cancelled'])(
    'runs again, by the retry path, a step that ended %s before this run',
    async (status) => {
      const failed = row({ id: 'f', childKey: 'a', status, error: 'boom' });
      const { child, lifecycle, queues } = setup([failed]);
      await expect(child('a', 'echo', {})).resolves.toEqual({ ok: 'f' });
      expect(lifecycle.apply).toHaveBeenCalledWith('f', { type: 'requeued' });
      expect(queues.requeue).toHaveBeenCalledTimes(1);
    },
  );

  it('rejects with typed errors for a step that ends in error or cancelled, and does not re-run it in the same run', async () => {
    const { child, finishAs, lifecycle } = setup();
    finishAs.set('a-job', { status: 'error', error: 'boom' });
    finishAs.set('b-job', { status: 'cancelled' });
    const failed = await child('a', 'echo', {}).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(ChildJobFailedError);
    expect(failed).toMatchObject({ childId: 'a-job', key: 'a', status: 'error', error: 'boom' });
    await expect(child('b', 'echo', {})).rejects.toBeInstanceOf(ChildJobCancelledError);
    await expect(child('a', 'echo', {})).rejects.toBeInstanceOf(ChildJobFailedError);
    expect(lifecycle.apply).not.toHaveBeenCalled();
  });

  it('refuses a bad key, another kind under the same key, and nesting past the bound', async () => {
    const { child, submits } = setup([
      row({ id: 'k', childKey: 'a', kind: 'echo', status: 'done' }),
    ]);
    await expect(child('', 'echo', {})).rejects.toBeInstanceOf(ChildJobRefusedError);
    await expect(child('a', 'other', {})).rejects.toThrow(/it is a echo step, not other/);
    expect(submits.submit).not.toHaveBeenCalled();

    const deep = setup([
      row({ id: 'g1', parentId: null }),
      row({ id: 'g2', parentId: 'g1' }),
      row({ id: 'g3', parentId: 'g2' }),
    ]);
    const third = deep.service.contextFor({
      job: row({ id: 'leaf', parentId: 'g3' }),
      signal: new AbortController().signal,
      lendSlot: () => () => undefined,
    });
    await expect(third.child('x', 'echo', {})).rejects.toThrow(/nest at most 3 deep/);
  });

  it('turns what a submit answers 4xx into a refusal; a dependency down stays retryable', async () => {
    const { child, submits } = setup();
    const refusal = new BadRequestException('params.text must be a string');
    submits.submit.mockRejectedValueOnce(refusal);
    // The refusal is the cause: a parent can tell why (a quota, docs/usage.md) by its class.
    await expect(child('a', 'echo', {})).rejects.toThrow(
      new ChildJobRefusedError('a', 'params.text must be a string', { cause: refusal }),
    );
    submits.submit.mockRejectedValueOnce(new DependencyUnavailableError('redis'));
    await expect(child('b', 'echo', {})).rejects.toBeInstanceOf(DependencyUnavailableError);
  });

  it('cancels a step submitted while the parent was being cancelled, and rejects', async () => {
    const parent = row({ id: 'parent', parentId: null, status: 'processing', attempts: 1 });
    const { child, submits, rows, controller, queues } = setup([], parent);
    const submit = submits.submit.getMockImplementation()!;
    submits.submit.mockImplementationOnce(async (...args) => {
      // The cancel lands (and cancels the steps it finds) before the step's row exists.
      parent.status = 'cancelled';
      controller.abort(new JobCancelledError());
      await flush();
      return submit(...args);
    });
    await expect(child('a', 'echo', {})).rejects.toBeInstanceOf(JobCancelledError);
    expect(rows.get('a-job')?.status).toBe('cancelled');
    expect(queues.cancel).toHaveBeenCalledWith('echo', 'a-job', 'u');
  });

  it("does not cancel the steps of the parent's current attempt when a stale run of it is aborted", async () => {
    const stale = row({ id: 'parent', parentId: null, status: 'processing', attempts: 1 });
    const step = row({ id: 's', childKey: 'a', status: 'processing' });
    const { rows, controller, lifecycle } = setup([step], stale);
    rows.set('parent', { ...stale, attempts: 2 });
    // Its progress was refused: the job was recovered elsewhere.
    controller.abort(new JobCancelledError());
    await flush();
    expect(lifecycle.apply).not.toHaveBeenCalled();
    expect(step.status).toBe('processing');
  });

  it('cancels the steps when the current run times out', async () => {
    const parent = row({ id: 'parent', parentId: null, status: 'processing', attempts: 2 });
    const step = row({ id: 's', childKey: 'a', status: 'processing' });
    const { controller } = setup([step], parent);
    controller.abort(new JobTimeoutError(10));
    await flush();
    expect(step.status).toBe('cancelled');
  });
});

function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
