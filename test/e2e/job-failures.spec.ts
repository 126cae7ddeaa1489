import { defineJobKind } from '../../src/core/job.types';
import { startStack, type TestStack } from '../support/app';
import { AdminApi, Api, expectError, uniqueUser, type EventBody } from '../support/api';
import { EchoParams, EchoProcessor, echoKind } from '../support/test-kinds';
import { waitFor } from '../support/wait';

const TIMEOUT_MS = 300;

/** Same work as echo, but every attempt is cut off after TIMEOUT_MS. */
const slowKind = defineJobKind({
  name: 'slow',
  params: EchoParams,
  processor: EchoProcessor,
  policies: { timeoutMs: TIMEOUT_MS, backoffMs: 50 },
});

function statuses(events: EventBody[]): string[] {
  return events.map((event) => event.status);
}

describe('retries, timeouts and POST /jobs/:id/retry', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startStack('failures', [echoKind, slowKind]);
  });
  afterAll(() => stack.close());

  describe('automatic retries (3 attempts, exponential backoff)', () => {
    it("retries a failing job and ends done on the last attempt (fail: 'until-last')", async () => {
      const api = new Api(stack, uniqueUser('alice'));
      const submitted = await api.submitOk('echo', { text: 'flaky', fail: 'until-last' });
      const job = await api.waitForStatus(submitted.id);
      expect(job).toMatchObject({
        status: 'done',
        attempts: 3,
        maxAttempts: 3,
        error: null,
        result: { text: 'flaky', attempt: 3 },
      });

      const events = await api.allEvents(job.id);
      expect(statuses(events)).toEqual([
        'created',
        'processing',
        'progress',
        'processing',
        'progress',
        'processing',
        'done',
      ]);
      expect(events.filter((e) => e.status === 'processing').map((e) => e.message)).toEqual([
        'attempt 1 of 3 started',
        'attempt 2 of 3 started',
        'attempt 3 of 3 started',
      ]);
      expect(events.filter((e) => e.status === 'progress').map((e) => e.message)).toEqual([
        'attempt 1 of 3 failed: attempt 1 failed: flaky; retrying',
        'attempt 2 of 3 failed: attempt 2 failed: flaky; retrying',
      ]);
    });

    it("fails at once, after exactly 1 attempt, on a NonRetryableJobError (fail: 'fatal')", async () => {
      const api = new Api(stack, uniqueUser('alice'));
      const submitted = await api.submitOk('echo', { text: 'doomed', fail: 'fatal' });
      const job = await api.waitForStatus(submitted.id);
      expect(job).toMatchObject({
        status: 'error',
        attempts: 1,
        error: 'fatal: doomed',
        result: null,
      });
      expect(job.finishedAt).not.toBeNull();
      const events = await api.allEvents(job.id);
      expect(statuses(events)).toEqual(['created', 'processing', 'error']);
      expect(events.at(-1)).toMatchObject({ status: 'error', error: 'fatal: doomed' });
    });

    it("ends in error after 3 attempts when every attempt fails (fail: 'always')", async () => {
      const api = new Api(stack, uniqueUser('alice'));
      const submitted = await api.submitOk('echo', { text: 'never', fail: 'always' });
      const job = await api.waitForStatus(submitted.id);
      expect(job).toMatchObject({
        status: 'error',
        attempts: 3,
        error: 'attempt 3 failed: never',
        result: null,
      });
      const events = await api.allEvents(job.id);
      expect(statuses(events)).toEqual([
        'created',
        'processing',
        'progress',
        'processing',
        'progress',
        'processing',
        'error',
      ]);
      expect(events.filter((e) => e.status === 'progress').map((e) => e.message)).toEqual([
        'attempt 1 of 3 failed: attempt 1 failed: never; retrying',
        'attempt 2 of 3 failed: attempt 2 failed: never; retrying',
      ]);
    });
  });

  describe('per-job timeout', () => {
    it('stops a job that runs past its kind’s timeoutMs: error, timed out, not retried', async () => {
      const api = new Api(stack, uniqueUser('alice'));
      const submitted = await api.submitOk('slow', { text: 'sleepy', steps: 1, stepMs: 60_000 });
      const job = await api.waitForStatus(submitted.id);
      expect(job).toMatchObject({ status: 'error', attempts: 1, result: null });
      expect(job.error).toMatch(/timed out/);
      expect(job.error).toMatch(new RegExp(`${TIMEOUT_MS} ms`));
      const events = await api.allEvents(job.id);
      expect(statuses(events)).toEqual(['created', 'processing', 'error']);

      // retried, it gets a fresh timeout and times out again
      await api.post(`/jobs/${job.id}/retry`).expect(202);
      await waitFor('the retried job to time out again', async () => {
        const again = await api.allEvents(job.id);
        return again.length === 6 ? again : undefined;
      });
      const rerun = await api.job(job.id);
      expect(rerun).toMatchObject({ status: 'error', attempts: 1 });
      expect(rerun.error).toMatch(/timed out/);
    });

    it('lets a job that finishes within the timeout complete', async () => {
      const api = new Api(stack, uniqueUser('alice'));
      const submitted = await api.submitOk('slow', { text: 'quick', steps: 2 });
      const job = await api.waitForStatus(submitted.id);
      expect(job).toMatchObject({ status: 'done', attempts: 1, error: null });
    });
  });

  describe('POST /jobs/:id/retry', () => {
    it('re-runs a job that ended in error; it runs again to the same end state', async () => {
      const api = new Api(stack, uniqueUser('alice'));
      const submitted = await api.submitOk('echo', { text: 'again', fail: 'fatal' });
      const failed = await api.waitForStatus(submitted.id, ['error']);
      const before = await api.allEvents(failed.id);

      const res = await api.post(`/jobs/${failed.id}/retry`);
      expect(res.status).toBe(202);
      expect(res.body).toMatchObject({
        id: failed.id,
        status: 'queued',
        attempts: 0,
        progress: 0,
        error: null,
        startedAt: null,
        finishedAt: null,
      });

      const rerun = await api.waitForStatus(failed.id, ['error']);
      expect(rerun).toMatchObject({ status: 'error', attempts: 1, error: 'fatal: again' });
      const after = await api.events(failed.id, { after: before.at(-1)?.eventId ?? '0' });
      expect(statuses(after.items)).toEqual(['created', 'processing', 'error']);
      expect(after.items[0]?.message).toBe('retry requested');
      expect(after.items[1]?.message).toBe('attempt 1 of 3 started');
    });

    it('gives a retried job its full attempts budget again', async () => {
      const api = new Api(stack, uniqueUser('alice'));
      const submitted = await api.submitOk('echo', { text: 'budget', fail: 'always' });
      await api.waitForStatus(submitted.id, ['error']);
      await api.post(`/jobs/${submitted.id}/retry`).expect(202);
      const rerun = await api.waitForStatus(submitted.id, ['error']);
      expect(rerun).toMatchObject({ attempts: 3, error: 'attempt 3 failed: budget' });
      const events = await api.allEvents(submitted.id);
      expect(events.filter((e) => e.status === 'processing')).toHaveLength(6);
    });

    it('re-runs a failed job whose queue entry was already cleaned', async () => {
      const api = new Api(stack, uniqueUser('alice'));
      const admin = new AdminApi(stack);
      const submitted = await api.submitOk('echo', { text: 'cleaned', fail: 'fatal' });
      await api.waitForStatus(submitted.id, ['error']);
      await admin.idle('echo');
      const cleaned = await admin.post('/admin/queues/echo/clean', { graceMs: 0 }).expect(200);
      expect((cleaned.body as { failed: number }).failed).toBeGreaterThanOrEqual(1);

      await api.post(`/jobs/${submitted.id}/retry`).expect(202);
      const rerun = await api.waitForStatus(submitted.id, ['error']);
      expect(rerun).toMatchObject({ attempts: 1, error: 'fatal: cleaned' });
      const events = await api.allEvents(submitted.id);
      expect(statuses(events)).toEqual([
        'created',
        'processing',
        'error',
        'created',
        'processing',
        'error',
      ]);
    });

    it('requeues only once when the same job is retried twice at the same time', async () => {
      const api = new Api(stack, uniqueUser('alice'));
      const admin = new AdminApi(stack);
      const submitted = await api.submitOk('echo', { text: 'twice', fail: 'fatal' });
      await api.waitForStatus(submitted.id, ['error']);
      await admin.pause('echo');
      try {
        const responses = await Promise.all([
          api.post(`/jobs/${submitted.id}/retry`),
          api.post(`/jobs/${submitted.id}/retry`),
        ]);
        expect(responses.map((res) => res.status).sort()).toEqual([202, 409]);
        const conflict = responses.find((res) => res.status === 409);
        if (conflict) expectError(conflict, 409);
      } finally {
        await admin.resume('echo');
      }
      await api.waitForStatus(submitted.id, ['error']);
      await admin.idle('echo');
      const events = await api.allEvents(submitted.id);
      expect(statuses(events)).toEqual([
        'created',
        'processing',
        'error',
        'created',
        'processing',
        'error',
      ]);
    });

    it('answers 409 for a job that is done', async () => {
      const api = new Api(stack, uniqueUser('alice'));
      const submitted = await api.submitOk('echo', { text: 'fine' });
      await api.waitForStatus(submitted.id, ['done']);
      expectError(await api.post(`/jobs/${submitted.id}/retry`), 409, /this one is done/);
      expect(await api.job(submitted.id)).toMatchObject({ status: 'done', attempts: 1 });
    });

    it('answers 409 for a job that is queued, and for one that is cancelled', async () => {
      const api = new Api(stack, uniqueUser('alice'));
      const admin = new AdminApi(stack);
      await admin.pause('echo');
      try {
        const queued = await api.submitOk('echo', { text: 'waiting' });
        expectError(await api.post(`/jobs/${queued.id}/retry`), 409, /this one is queued/);
        await api.post(`/jobs/${queued.id}/cancel`).expect(200);
        expectError(await api.post(`/jobs/${queued.id}/retry`), 409, /this one is cancelled/);
        expect(await api.job(queued.id)).toMatchObject({ status: 'cancelled', attempts: 0 });
      } finally {
        await admin.resume('echo');
      }
    });

    it('answers 409 for a job that is processing', async () => {
      const api = new Api(stack, uniqueUser('alice'));
      const submitted = await api.submitOk('echo', { text: 'busy', steps: 100, stepMs: 100 });
      await api.waitForStatus(submitted.id, ['processing']);
      expectError(await api.post(`/jobs/${submitted.id}/retry`), 409, /this one is processing/);
      await api.post(`/jobs/${submitted.id}/cancel`).expect(200);
      await new AdminApi(stack).idle('echo');
    });
  });
});
