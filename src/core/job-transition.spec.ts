import type { Job } from '../generated/prisma/client';
import { planTransition, type JobChange } from './job-transition';

const now = new Date('2026-01-01T00:00:00Z');

function job(status: string, extra: Partial<Job> = {}): Job {
  return {
    id: '00000000-0000-4000-8000-000000000001',
    kind: 'echo',
    userId: 'u',
    projectId: 'p',
    requestId: null,
    status,
    priority: 5,
    progress: 0,
    message: null,
    params: {},
    result: null,
    error: null,
    attempts: 0,
    maxAttempts: 3,
    idempotencyKey: null,
    idempotencyHash: null,
    createdAt: now,
    startedAt: null,
    finishedAt: null,
    updatedAt: now,
    version: 0,
    parentId: null,
    childKey: null,
    ...extra,
  };
}

describe('planTransition', () => {
  const changes: Record<string, JobChange> = {
    processing: { type: 'processing', attempt: 1 },
    progress: { type: 'progress', progress: 40 },
    retrying: { type: 'retrying', attempt: 1, error: 'boom' },
    done: { type: 'done', result: { ok: true } },
    error: { type: 'error', error: 'boom' },
    cancelled: { type: 'cancelled' },
    requeued: { type: 'requeued' },
    returned: { type: 'returned', attempt: 1 },
    lost: { type: 'lost' },
  };
  const allowed: Record<string, string[]> = {
    queued: ['processing', 'error', 'cancelled', 'lost'],
    processing: [
      'processing',
      'progress',
      'retrying',
      'done',
      'error',
      'cancelled',
      'returned',
      'lost',
    ],
    done: [],
    error: ['requeued'],
    cancelled: ['requeued'],
  };

  it.each(Object.entries(allowed))('from %s allows exactly %j', (status, expected) => {
    const permitted = Object.entries(changes)
      .filter(([, change]) => planTransition(job(status, { attempts: 1 }), change, now) !== null)
      .map(([name]) => name);
    expect(permitted).toEqual(expected);
  });

  it('starts an attempt: processing, attempts and startedAt set once', () => {
    const first = planTransition(job('queued'), changes.processing, now);
    expect(first?.update).toMatchObject({ status: 'processing', attempts: 1, startedAt: now });
    expect(first?.event).toMatchObject({ status: 'processing', message: 'attempt 1 of 3 started' });
    const earlier = new Date('2025-01-01T00:00:00Z');
    const second = planTransition(
      job('processing', { startedAt: earlier }),
      { type: 'processing', attempt: 2 },
      now,
    );
    expect(second?.update.startedAt).toBe(earlier);
  });

  it('finishes with progress 100, result and finishedAt', () => {
    const plan = planTransition(job('processing', { progress: 60 }), changes.done, now);
    expect(plan?.update).toMatchObject({ status: 'done', progress: 100, finishedAt: now });
    expect(plan?.event).toMatchObject({ status: 'done', result: { ok: true }, progress: 100 });
  });

  it('an output-only report keeps progress and message and carries the output', () => {
    const current = job('processing', { progress: 40, message: 'compiling' });
    const plan = planTransition(current, { type: 'progress', output: 'ok\n' }, now);
    expect(plan?.update).toMatchObject({ progress: 40, message: 'compiling' });
    expect(plan?.event).toMatchObject({ status: 'progress', progress: 40, output: 'ok\n' });
    const plain = planTransition(current, { type: 'progress', progress: 50 }, now);
    expect(plain?.event.output).toBeNull();
  });

  it('a failed attempt that will be retried stays processing and says so', () => {
    const plan = planTransition(job('processing', { attempts: 1 }), changes.retrying, now);
    expect(plan?.update).toMatchObject({ status: 'processing', attempts: 1, error: 'boom' });
    expect(plan?.event).toMatchObject({
      status: 'progress',
      message: 'attempt 1 of 3 failed: boom; retrying',
      error: 'boom',
    });
  });

  it('the start after a retry counts the next attempt, as a plain start', () => {
    const failed = planTransition(job('processing', { attempts: 1 }), changes.retrying, now);
    const waiting = job('processing', {
      attempts: 1,
      message: failed?.update.message ?? null,
      error: failed?.update.error ?? null,
    });
    const plan = planTransition(waiting, { type: 'processing', attempt: 2 }, now);
    expect(plan?.update).toMatchObject({ status: 'processing', attempts: 2, error: null });
    expect(plan?.event.message).toBe('attempt 2 of 3 started');
  });

  it('a start while still processing counts the lost attempt and says it recovered', () => {
    // BullMQ does not count a stalled run: its attempt number is 1 again.
    const lost = job('processing', { attempts: 1 });
    const plan = planTransition(lost, { type: 'processing', attempt: 1 }, now);
    expect(plan?.update).toMatchObject({ status: 'processing', attempts: 2 });
    expect(plan?.event).toMatchObject({
      status: 'processing',
      message: 'attempt 2 of 3 started: recovered, attempt 1 was lost with its worker',
    });
  });

  it("a processor's message, however it reads, does not hide a lost attempt", () => {
    for (const message of ['network down; retrying', 'attempt 1 of 3 failed: x; retrying']) {
      const lost = job('processing', { attempts: 1, message });
      const plan = planTransition(lost, { type: 'processing', attempt: 1 }, now);
      expect(plan?.event.message).toBe(
        'attempt 2 of 3 started: recovered, attempt 1 was lost with its worker',
      );
    }
    // On the last attempt, reading it as a retry would have run the job past maxAttempts.
    const last = job('processing', { attempts: 3, message: 'attempt 3 of 3 failed: x; retrying' });
    const plan = planTransition(last, { type: 'processing', attempt: 1 }, now);
    expect(plan?.update).toMatchObject({ status: 'error', attempts: 3 });
  });

  it('the last attempt lost with its worker fails the job instead of exceeding maxAttempts', () => {
    const lost = job('processing', { attempts: 3 });
    const plan = planTransition(lost, { type: 'processing', attempt: 1 }, now);
    expect(plan?.update).toMatchObject({ status: 'error', attempts: 3, finishedAt: now });
    expect(plan?.event).toMatchObject({
      status: 'error',
      error: 'attempt 3 of 3 was lost with its worker',
    });
  });

  it("refuses a superseded attempt's writes, accepts the current one's", () => {
    const current = job('processing', { attempts: 2 });
    for (const change of [
      { type: 'progress', progress: 10, attempt: 1 },
      { type: 'done', result: null, attempt: 1 },
      { type: 'retrying', attempt: 1, error: 'x' },
      { type: 'cancelled', attempt: 1 },
      { type: 'returned', attempt: 1 },
    ] as JobChange[]) {
      expect(planTransition(current, change, now)).toBeNull();
      expect(planTransition(current, { ...change, attempt: 2 } as JobChange, now)).not.toBeNull();
    }
  });

  it('an attempt handed back at shutdown does not count', () => {
    const plan = planTransition(job('processing', { attempts: 1 }), changes.returned, now);
    expect(plan?.update).toMatchObject({ status: 'queued', attempts: 0 });
    expect(plan?.event).toMatchObject({
      status: 'created',
      message: 'returned to the queue: its worker is shutting down',
    });
  });

  it('a lost queue entry puts the job back in line, the lost attempt counted', () => {
    const queued = planTransition(job('queued'), changes.lost, now);
    expect(queued?.update).toMatchObject({ status: 'queued', attempts: 0 });
    expect(queued?.event).toMatchObject({
      status: 'created',
      message: 'queue entry lost; re-queued',
    });
    const running = planTransition(job('processing', { attempts: 2 }), changes.lost, now);
    expect(running?.update).toMatchObject({ status: 'queued', attempts: 2 });
    expect(running?.event.message).toBe('queue entry lost during attempt 2; re-queued');
    const last = planTransition(job('processing', { attempts: 3 }), changes.lost, now);
    expect(last?.update).toMatchObject({ status: 'error', attempts: 3, finishedAt: now });
    expect(last?.event).toMatchObject({
      status: 'error',
      error: 'queue entry lost during attempt 3 of 3',
    });
  });

  it('requeue clears the outcome of the failed run', () => {
    const failed = job('error', { error: 'x', attempts: 3, progress: 50, finishedAt: now });
    const plan = planTransition(failed, changes.requeued, now);
    expect(plan?.update).toMatchObject({
      status: 'queued',
      error: null,
      attempts: 0,
      progress: 0,
      result: null,
      finishedAt: null,
    });
    expect(plan?.event.status).toBe('created');
  });
});
