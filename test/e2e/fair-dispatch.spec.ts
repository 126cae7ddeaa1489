import Redis from 'ioredis';
import { Api, uniqueUser, type JobBody } from '../support/api';
import { crashableWorkerEnv, startStack, type TestStack } from '../support/app';
import { killAllConveyors, startConveyor, type ConveyorProcess } from '../support/conveyor-process';
import { TEST_REDIS_URL } from '../support/redis';
import { echoKind } from '../support/test-kinds';
import { waitFor } from '../support/wait';

const FINISH_BOUND_MS = 120_000;

/**
 * Fair dispatch (docs/job-policies.md): jobs are queued while no worker runs, then one worker of
 * one slot takes them, so the order of their starts is the order the queue hands them out.
 */
describe('fair dispatch across users within a kind (separate worker processes)', () => {
  let stack: TestStack;
  let redis: Redis;

  beforeAll(async () => {
    stack = await startStack('fair', [echoKind], {
      APP_ROLE: 'api',
      SUBMIT_LIMIT_PER_MINUTE: '100000',
    });
    redis = new Redis(TEST_REDIS_URL);
  });

  afterEach(() => killAllConveyors());

  afterAll(async () => {
    await killAllConveyors();
    redis?.disconnect();
    await stack?.close();
  });

  async function worker(label: string): Promise<ConveyorProcess> {
    const { proc } = await startConveyor(
      label,
      crashableWorkerEnv(stack, { QUEUE_RATE_LIMIT_MAX: '100000' }),
    );
    return proc;
  }

  async function submitMany(api: Api, count: number, params: object, extra: object = {}) {
    const jobs: JobBody[] = [];
    for (let i = 0; i < count; i += 1) jobs.push(await api.submitOk('echo', params, extra));
    return jobs;
  }

  function allDone(api: Api, jobs: JobBody[]): Promise<JobBody[]> {
    return Promise.all(jobs.map((job) => api.waitForStatus(job.id, ['done'], FINISH_BOUND_MS)));
  }

  function fairSetSize(user: string): Promise<number> {
    return redis.scard(`${stack.prefix}:fair:{echo:${user}}`);
  }

  /** Ids in the order their (last) runs started. */
  function startOrder(jobs: JobBody[]): string[] {
    return [...jobs]
      .sort((a, b) => Date.parse(a.startedAt ?? '') - Date.parse(b.startedAt ?? ''))
      .map((job) => job.id);
  }

  it("starts a second user's few jobs before the first user's backlog, and a user's critical job before their own backlog", async () => {
    const a = new Api(stack, uniqueUser('flood'));
    const b = new Api(stack, uniqueUser('few'));
    // A few milliseconds per job keep the starts' timestamps distinct.
    const params = { text: 'fair', steps: 1, stepMs: 5 };
    const flood = await submitMany(a, 60, params);
    const few = await submitMany(b, 3, params);
    const [urgent] = await submitMany(a, 1, params, { priority: 'critical' });
    expect(await fairSetSize(a.user)).toBe(61);

    await worker('worker');
    const done = [...(await allDone(a, [...flood, urgent])), ...(await allDone(b, few))];
    const order = startOrder(done);

    expect(order[0]).toBe(urgent.id);
    const positions = few.map((job) => order.indexOf(job.id));
    // Each of B's jobs goes right after A's job of the same depth: 2, 4, 6 behind the critical one.
    expect(positions).toEqual([2, 4, 6]);
    expect(order.filter((id) => flood.some((job) => job.id === id))).toEqual(
      flood.map((job) => job.id),
    );
    expect(await fairSetSize(a.user)).toBe(0);
    expect(await fairSetSize(b.user)).toBe(0);
  });

  it('a job cancelled before it started leaves its fairness set', async () => {
    const api = new Api(stack, uniqueUser('cancels'));
    const jobs = await submitMany(api, 2, { text: 'cancel' });
    expect(await fairSetSize(api.user)).toBe(2);
    for (const [i, job] of jobs.entries()) {
      expect((await api.post(`/jobs/${job.id}/cancel`)).status).toBe(200);
      expect(await fairSetSize(api.user)).toBe(1 - i);
    }
  });

  it('SIGKILL of a worker loses and duplicates nothing, and leaves no finished job in the fairness sets', async () => {
    const a = new Api(stack, uniqueUser('flood-kill'));
    const b = new Api(stack, uniqueUser('few-kill'));
    const params = { text: 'fair-kill', steps: 10, stepMs: 50 };
    const flood = await submitMany(a, 16, params);
    const few = await submitMany(b, 3, params);
    const [first, second] = await Promise.all([worker('worker A'), worker('worker B')]);

    // One slot each: two jobs processing at once means the one to be killed is running one.
    await waitFor('both workers to run a job', async () => {
      const running = (await a.list({ status: 'processing' })).items;
      return running.length === 2 ? running : undefined;
    });
    first.signal('SIGKILL');
    expect(await first.waitForExit(20_000)).toEqual({ code: null, signal: 'SIGKILL' });

    const done = [...(await allDone(a, flood)), ...(await allDone(b, few))];
    for (const job of done) {
      const api = flood.some((j) => j.id === job.id) ? a : b;
      const statuses = (await api.allEvents(job.id)).map((event) => event.status);
      expect(statuses.filter((s) => s === 'done' || s === 'error')).toEqual(['done']);
      expect(job.attempts).toBeLessThanOrEqual(job.maxAttempts);
    }
    expect(second.running).toBe(true);
    expect(await fairSetSize(a.user)).toBe(0);
    expect(await fairSetSize(b.user)).toBe(0);
  });
});
