import { Api, uniqueUser, type EventBody, type JobBody } from '../support/api';
import { crashableWorkerEnv, startStack, type TestStack } from '../support/app';
import { killAllConveyors, startConveyor, type ConveyorProcess } from '../support/conveyor-process';
import { echoKind } from '../support/test-kinds';
import { waitFor } from '../support/wait';

const FINISH_BOUND_MS = 60_000;
const RECOVERED = /^attempt 2 of 3 started: recovered, attempt 1 was lost with its worker$/;

/**
 * A job whose worker died or stopped answering past its lock is run again elsewhere: that run
 * is counted as attempt 2 and its processing event says the first was lost; a paused worker that
 * wakes up afterwards cannot report for the job any more. Each worker runs one job at a time,
 * so with two jobs processing each worker holds one.
 */
describe('recovery of a job from a lost worker (separate processes)', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startStack('recovery', [echoKind], { APP_ROLE: 'api' });
  });

  afterEach(() => killAllConveyors());

  afterAll(async () => {
    await killAllConveyors();
    await stack?.close();
  });

  async function twoWorkers(): Promise<[ConveyorProcess, ConveyorProcess]> {
    const env = crashableWorkerEnv(stack, { PROGRESS_INTERVAL_MS: '0' });
    const [a, b] = await Promise.all([
      startConveyor('worker A', env),
      startConveyor('worker B', env),
    ]);
    return [a.proc, b.proc];
  }

  async function bothProcessing(api: Api, ids: string[]): Promise<void> {
    await waitFor('both jobs to be processing', async () => {
      const jobs = await Promise.all(ids.map((id) => api.job(id)));
      return jobs.every((j) => j.status === 'processing');
    });
  }

  async function outcome(api: Api, ids: string[], workers: ConveyorProcess[]) {
    const jobs: JobBody[] = [];
    for (const id of ids) {
      jobs.push(
        await api.waitForStatus(id, ['done', 'error', 'cancelled'], FINISH_BOUND_MS).catch((e) => {
          throw new Error(
            `${(e as Error).message}\n${workers.map((w) => w.describe()).join('\n')}`,
          );
        }),
      );
    }
    const events = await Promise.all(ids.map((id) => api.allEvents(id)));
    return { jobs, events };
  }

  const started = (events: EventBody[]) =>
    events.filter((e) => e.status === 'processing').map((e) => e.message ?? '');
  const finals = (events: EventBody[]) =>
    events.filter((e) => ['done', 'error', 'cancelled'].includes(e.status)).map((e) => e.status);

  it('SIGKILL: the run after the crash is attempt 2 and says it recovered attempt 1', async () => {
    const [a, b] = await twoWorkers();
    const api = new Api(stack, uniqueUser('kill'));
    const ids = [
      (await api.submitOk('echo', { text: 'k1', steps: 30, stepMs: 100 })).id,
      (await api.submitOk('echo', { text: 'k2', steps: 30, stepMs: 100 })).id,
    ];
    await bothProcessing(api, ids);
    a.signal('SIGKILL');
    await a.waitForExit(20_000);

    const { jobs, events } = await outcome(api, ids, [b]);
    const recovered = jobs.findIndex((j) => j.attempts === 2);
    expect(recovered).toBeGreaterThanOrEqual(0);
    expect(jobs[recovered]).toMatchObject({ status: 'done', result: { attempt: 2, pid: b.pid } });
    expect(started(events[recovered])).toEqual([
      'attempt 1 of 3 started',
      expect.stringMatching(RECOVERED),
    ]);
    const other = 1 - recovered;
    expect(jobs[other]).toMatchObject({ status: 'done', attempts: 1 });
    expect(started(events[other])).toEqual(['attempt 1 of 3 started']);
    for (const list of events) expect(finals(list)).toEqual(['done']);
  });

  it('SIGSTOP past the lock: the job recovers elsewhere and the woken worker can no longer report', async () => {
    const [a, b] = await twoWorkers();
    const api = new Api(stack, uniqueUser('stop'));
    const ids = [
      (await api.submitOk('echo', { text: 's1', steps: 40, stepMs: 100 })).id,
      (await api.submitOk('echo', { text: 's2', steps: 40, stepMs: 100 })).id,
    ];
    await bothProcessing(api, ids);
    a.signal('SIGSTOP');
    try {
      await waitFor(
        'the paused worker’s job to be started again',
        async () => {
          const lists = await Promise.all(ids.map((id) => api.allEvents(id)));
          return lists.some((list) => started(list).some((m) => RECOVERED.test(m)));
        },
        FINISH_BOUND_MS,
        100,
      );
    } finally {
      a.signal('SIGCONT');
    }

    const { jobs, events } = await outcome(api, ids, [a, b]);
    const recovered = jobs.findIndex((j) => j.attempts === 2);
    expect(jobs[recovered]).toMatchObject({ status: 'done', result: { attempt: 2, pid: b.pid } });
    for (const list of events) expect(finals(list)).toEqual(['done']);
    // After the recovery only the new run reports: its steps count up from 1, none of A's.
    const list = events[recovered];
    const from = list.findIndex(
      (e) => e.status === 'processing' && RECOVERED.test(e.message ?? ''),
    );
    const steps = list
      .slice(from + 1)
      .filter((e) => e.status === 'progress')
      .map((e) => Number(/^step (\d+)$/.exec(e.message ?? '')?.[1]));
    expect(steps).toEqual(steps.map((_, i) => i + 1));
    expect(a.running).toBe(true);
  });
});
