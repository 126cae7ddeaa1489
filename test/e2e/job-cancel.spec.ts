import { defineJobKind } from '../../src/core/job.types';
import { startStack, type TestStack } from '../support/app';
import { AdminApi, Api, expectError, uniqueUser, type EventBody } from '../support/api';
import { EchoParams, EchoProcessor, echoKind } from '../support/test-kinds';
import { waitFor } from '../support/wait';

/** Echo with a long backoff, so that a failed attempt leaves the job waiting for its next one. */
const patientKind = defineJobKind({
  name: 'patient',
  params: EchoParams,
  processor: EchoProcessor,
  policies: { backoffMs: 600_000 },
});

function statuses(events: EventBody[]): string[] {
  return events.map((event) => event.status);
}

describe('POST /jobs/:id/cancel', () => {
  let stack: TestStack;
  let admin: AdminApi;

  beforeAll(async () => {
    stack = await startStack('cancel', [echoKind, patientKind]);
    admin = new AdminApi(stack);
  });
  afterAll(() => stack.close());

  it('cancels a queued job, which then never runs', async () => {
    const api = new Api(stack, uniqueUser('alice'));
    await admin.pause('echo');
    let cancelledId: string;
    try {
      const queued = await api.submitOk('echo', { text: 'never runs' });
      expect(queued.status).toBe('queued');
      const res = await api.post(`/jobs/${queued.id}/cancel`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id: queued.id, status: 'cancelled', attempts: 0 });
      cancelledId = queued.id;
    } finally {
      await admin.resume('echo');
    }

    // A later job of the same kind completing proves the worker has had its chance.
    const later = await api.submitOk('echo', { text: 'runs' });
    await api.waitForStatus(later.id, ['done']);
    await admin.idle('echo');

    const job = await api.job(cancelledId);
    expect(job).toMatchObject({
      status: 'cancelled',
      attempts: 0,
      startedAt: null,
      result: null,
      progress: 0,
    });
    expect(job.finishedAt).not.toBeNull();
    const events = await api.allEvents(cancelledId);
    expect(statuses(events)).toEqual(['created', 'cancelled']);
    expect(statuses(events)).not.toContain('processing');
  });

  it('stops a running job: it ends cancelled, with no done event', async () => {
    const api = new Api(stack, uniqueUser('alice'));
    const submitted = await api.submitOk('echo', { text: 'long', steps: 200, stepMs: 100 });
    await waitFor('the job to report progress', async () => {
      const events = await api.allEvents(submitted.id);
      return events.some((event) => event.status === 'progress');
    });

    const res = await api.post(`/jobs/${submitted.id}/cancel`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: submitted.id, status: 'cancelled' });

    // The worker has let go of the job once the queue has nothing active.
    await admin.idle('echo');
    const job = await api.job(submitted.id);
    expect(job).toMatchObject({ status: 'cancelled', attempts: 1, result: null });
    expect(job.progress).toBeLessThan(100);

    const events = await api.allEvents(submitted.id);
    expect(events.at(-1)?.status).toBe('cancelled');
    expect(statuses(events)).not.toContain('done');
    expect(statuses(events)).not.toContain('error');
    expect(statuses(events).filter((status) => status === 'cancelled')).toHaveLength(1);
    expect(statuses(events).slice(0, 3)).toEqual(['created', 'processing', 'progress']);
  });

  it('answers 200 with the cancelled job for every cancel of a running job', async () => {
    // Cancelling tells the worker to stop; the worker recording the cancellation first must not
    // turn the caller's successful cancel into a 409. Several jobs at once widen that window.
    const api = new Api(stack, uniqueUser('alice'));
    for (let round = 0; round < 3; round += 1) {
      const jobs = await Promise.all(
        Array.from({ length: 5 }, (_, i) =>
          api.submitOk('echo', { text: `r${round}-${i}`, steps: 200, stepMs: 100 }),
        ),
      );
      await Promise.all(jobs.map((job) => api.waitForStatus(job.id, ['processing'])));
      const responses = await Promise.all(jobs.map((job) => api.post(`/jobs/${job.id}/cancel`)));
      expect(
        responses.map((res) => [res.status, (res.body as { status?: string }).status]),
      ).toEqual(jobs.map(() => [200, 'cancelled']));
      await admin.idle('echo');
      for (const job of jobs) {
        const events = await api.allEvents(job.id);
        expect(events.at(-1)?.status).toBe('cancelled');
        expect(events.filter((event) => event.status === 'cancelled')).toHaveLength(1);
      }
    }
  });

  it('cancels a job that is waiting for its next attempt (backoff), which then never runs again', async () => {
    const api = new Api(stack, uniqueUser('alice'));
    const submitted = await api.submitOk('patient', { text: 'later', fail: 'always' });
    await waitFor('the first attempt to fail into its backoff', async () => {
      const stats = await admin.stats('patient');
      return stats.delayed === 1 && stats.active === 0;
    });
    expect(await api.job(submitted.id)).toMatchObject({ status: 'processing', attempts: 1 });

    const res = await api.post(`/jobs/${submitted.id}/cancel`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'cancelled', attempts: 1 });

    const stats = await admin.stats('patient');
    expect(stats).toMatchObject({ delayed: 0, active: 0, waiting: 0, prioritized: 0 });
    const events = await api.allEvents(submitted.id);
    expect(statuses(events)).toEqual(['created', 'processing', 'progress', 'cancelled']);
  });

  it('frees the worker: a job submitted after cancelling a running one completes', async () => {
    const api = new Api(stack, uniqueUser('alice'));
    const running = await api.submitOk('echo', { text: 'long', steps: 200, stepMs: 100 });
    await api.waitForStatus(running.id, ['processing']);
    await api.post(`/jobs/${running.id}/cancel`).expect(200);
    const next = await api.submitOk('echo', { text: 'next' });
    expect(await api.waitForStatus(next.id)).toMatchObject({ status: 'done' });
    await admin.idle('echo');
    expect(await api.job(running.id)).toMatchObject({ status: 'cancelled' });
  });

  it('cancels only once when the same queued job is cancelled twice at the same time', async () => {
    const api = new Api(stack, uniqueUser('alice'));
    await admin.pause('echo');
    try {
      const queued = await api.submitOk('echo', { text: 'twice' });
      const responses = await Promise.all([
        api.post(`/jobs/${queued.id}/cancel`),
        api.post(`/jobs/${queued.id}/cancel`),
      ]);
      expect(responses.map((res) => res.status).sort()).toEqual([200, 409]);
      const events = await api.allEvents(queued.id);
      expect(statuses(events)).toEqual(['created', 'cancelled']);
    } finally {
      await admin.resume('echo');
    }
  });

  it.each(['done', 'error', 'cancelled'] as const)(
    'answers 409 for a job that is already %s',
    async (end) => {
      const api = new Api(stack, uniqueUser('alice'));
      const params = end === 'error' ? { text: 'x', fail: 'fatal' } : { text: 'x' };
      if (end === 'cancelled') await admin.pause('echo');
      let id: string;
      try {
        id = (await api.submitOk('echo', params)).id;
        if (end === 'cancelled') await api.post(`/jobs/${id}/cancel`).expect(200);
      } finally {
        if (end === 'cancelled') await admin.resume('echo');
      }
      const finished = await api.waitForStatus(id, [end]);
      expectError(await api.post(`/jobs/${id}/cancel`), 409, new RegExp(`already ${end}`));
      expect(await api.job(id)).toEqual(finished);
    },
  );
});
