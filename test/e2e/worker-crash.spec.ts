import { crashableWorkerEnv, startStack, tokenFor, type TestStack } from '../support/app';
import { killAllConveyors, startConveyor, type ConveyorProcess } from '../support/conveyor-process';
import { echoKind, type EchoParams, type EchoResult } from '../support/test-kinds';
import { waitFor } from '../support/wait';

interface JobBody {
  id: string;
  status: string;
  attempts: number;
  maxAttempts: number;
  result: EchoResult | null;
}

interface EventBody {
  status: string;
  message?: string;
}

const EXIT_BOUND_MS = 20_000;
const FINISH_BOUND_MS = 60_000;

/**
 * Each worker runs one job at a time (JOB_CONCURRENCY=1), so when two jobs are processing
 * at once with two workers up, each worker holds exactly one of them: whichever worker is
 * stopped, it was running a job. Which job that was shows afterwards in result.pid and in
 * the job's events.
 */
describe('workers crashing and shutting down (separate processes)', () => {
  let stack: TestStack;
  const auth = `Bearer ${tokenFor('crash-user')}`;

  beforeAll(async () => {
    stack = await startStack('crash', [echoKind], { APP_ROLE: 'api' });
  });

  afterEach(() => killAllConveyors());

  afterAll(async () => {
    await killAllConveyors();
    await stack?.close();
  });

  async function twoWorkers(
    env: Record<string, string>,
  ): Promise<[ConveyorProcess, ConveyorProcess]> {
    const workerEnv = crashableWorkerEnv(stack, env);
    const [a, b] = await Promise.all([
      startConveyor('worker A', workerEnv),
      startConveyor('worker B', workerEnv),
    ]);
    return [a.proc, b.proc];
  }

  async function submit(params: EchoParams): Promise<string> {
    const res = await stack
      .http()
      .post('/api/v1/jobs/echo')
      .set('Authorization', auth)
      .send({ projectId: 'p-crash', params })
      .expect(202);
    return (res.body as JobBody).id;
  }

  async function job(id: string): Promise<JobBody> {
    const res = await stack.http().get(`/api/v1/jobs/${id}`).set('Authorization', auth).expect(200);
    return res.body as JobBody;
  }

  async function startedRuns(id: string): Promise<number> {
    const res = await stack
      .http()
      .get(`/api/v1/jobs/${id}/events`)
      .set('Authorization', auth)
      .expect(200);
    const events: EventBody[] = res.body.items;
    expect(events.map((e) => e.status).filter((s) => s === 'done' || s === 'error')).toEqual([
      'done',
    ]);
    return events.filter((e) => e.status === 'processing').length;
  }

  function allProcessing(ids: string[]): Promise<JobBody[]> {
    return waitFor('both jobs to be processing', async () => {
      const jobs = await Promise.all(ids.map(job));
      return jobs.every((j) => j.status === 'processing') ? jobs : undefined;
    });
  }

  function finished(id: string, workers: ConveyorProcess[]): Promise<JobBody> {
    return waitFor(
      `job ${id} to finish`,
      async () => {
        const current = await job(id);
        return ['done', 'error', 'cancelled'].includes(current.status) ? current : undefined;
      },
      FINISH_BOUND_MS,
      100,
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n${workers.map((w) => w.describe()).join('\n')}`);
    });
  }

  it('SIGKILL: the job the killed worker was running is recovered and done by the other worker', async () => {
    const [a, b] = await twoWorkers({});
    const ids = [
      await submit({ text: 'crash-1', steps: 40, stepMs: 100 }),
      await submit({ text: 'crash-2', steps: 40, stepMs: 100 }),
    ];
    await allProcessing(ids);

    a.signal('SIGKILL');
    expect(await a.waitForExit(EXIT_BOUND_MS)).toEqual({ code: null, signal: 'SIGKILL' });

    const jobs = await Promise.all(ids.map((id) => finished(id, [b])));
    for (const done of jobs) {
      expect(done).toMatchObject({ status: 'done', result: { pid: b.pid } });
      expect(done.attempts).toBe(done.result?.attempt);
      expect(done.attempts).toBeLessThanOrEqual(done.maxAttempts);
    }
    const runs = await Promise.all(ids.map(startedRuns));
    expect([...runs].sort()).toEqual([1, 2]);
    expect(b.running).toBe(true);
  });

  it('SIGTERM past the grace period: the worker exits by itself and hands its job to the other', async () => {
    const [a, b] = await twoWorkers({ SHUTDOWN_GRACE_MS: '500' });
    const ids = [
      await submit({ text: 'term-1', steps: 30, stepMs: 100 }),
      await submit({ text: 'term-2', steps: 30, stepMs: 100 }),
    ];
    await allProcessing(ids);

    a.signal('SIGTERM');
    const exit = await a.waitForExit(EXIT_BOUND_MS);
    expect(exit.code === 0 || exit.signal === 'SIGTERM').toBe(true);
    expect(a.stdout + a.stderr).toMatch(/returning 1 running job\(s\) to their queues/);

    const jobs = await Promise.all(ids.map((id) => finished(id, [b])));
    for (const done of jobs) {
      expect(done).toMatchObject({
        status: 'done',
        attempts: 1,
        result: { pid: b.pid, attempt: 1 },
      });
    }
    const runs = await Promise.all(ids.map(startedRuns));
    expect([...runs].sort()).toEqual([1, 2]);
  });

  it('SIGTERM within the grace period: the worker finishes its running job, takes no new one, then exits', async () => {
    const [a, b] = await twoWorkers({ SHUTDOWN_GRACE_MS: '30000' });
    const ids = [
      await submit({ text: 'drain-1', steps: 20, stepMs: 100 }),
      await submit({ text: 'drain-2', steps: 20, stepMs: 100 }),
    ];
    await allProcessing(ids);

    a.signal('SIGTERM');
    const later = await submit({ text: 'drain-later' });
    const exit = await a.waitForExit(EXIT_BOUND_MS);
    expect(exit.code === 0 || exit.signal === 'SIGTERM').toBe(true);
    expect(a.stdout + a.stderr).not.toMatch(/returning \d+ running job/);

    const jobs = await Promise.all(ids.map((id) => finished(id, [b])));
    for (const done of jobs) {
      expect(done).toMatchObject({ status: 'done', attempts: 1, result: { attempt: 1 } });
    }
    expect(jobs.map((j) => j.result?.pid).sort()).toEqual([a.pid, b.pid].sort());
    expect(await Promise.all(ids.map(startedRuns))).toEqual([1, 1]);

    expect(await finished(later, [b])).toMatchObject({ status: 'done', result: { pid: b.pid } });
  });
});
