import { getQueueToken } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import Redis from 'ioredis';
import { JobLifecycleService } from '../../src/core/job-lifecycle.service';
import { JobReconcilerService } from '../../src/core/job-reconciler.service';
import { AdminApi, Api, uniqueUser, type EventBody } from '../support/api';
import { startStack, type TestStack } from '../support/app';
import { TEST_REDIS_URL } from '../support/redis';
import { echoKind } from '../support/test-kinds';
import { queuePrefix } from '../../src/redis/redis-keys';

/**
 * A job row queued or processing whose queue entry Redis no longer has (an append-only file
 * that lost its last second) is found and put back in line, or failed when the attempt lost
 * was its last. The loss is made by removing the entry, as Redis would after such a restart.
 */
describe('the orphan reconciler', () => {
  let stack: TestStack;
  let admin: AdminApi;
  let reconciler: JobReconcilerService;
  let lifecycle: JobLifecycleService;
  let queue: Queue;
  const AFTER_MS = 1000;

  beforeAll(async () => {
    stack = await startStack('reconcile', [echoKind], {
      RECONCILE_INTERVAL_MS: '0',
      RECONCILE_AFTER_MS: String(AFTER_MS),
    });
    admin = new AdminApi(stack);
    reconciler = stack.app.get(JobReconcilerService);
    lifecycle = stack.app.get(JobLifecycleService);
    queue = stack.app.get<Queue>(getQueueToken('echo'), { strict: false });
  });

  afterAll(async () => {
    await stack?.close();
  });

  afterEach(async () => {
    await admin.resume('echo');
    await admin.idle('echo');
  });

  const later = () => Date.now() + AFTER_MS + 1000;
  const messages = (events: EventBody[]) => events.map((e) => `${e.status}: ${e.message ?? ''}`);

  it('re-queues a queued job whose entry is gone, and leaves alone one whose entry is there', async () => {
    const api = new Api(stack, uniqueUser('rec'));
    await admin.pause('echo');
    const lost = await api.submitOk('echo', { text: 'lost' });
    const kept = await api.submitOk('echo', { text: 'kept' });
    expect(await queue.remove(lost.id)).toBe(1);

    expect(await reconciler.reconcile(Date.now())).toEqual({ requeued: 0, failed: 0 });
    expect(await reconciler.reconcile(later())).toEqual({ requeued: 1, failed: 0 });
    expect(await reconciler.reconcile(later())).toEqual({ requeued: 0, failed: 0 });

    await admin.resume('echo');
    for (const job of [lost, kept]) {
      expect(await api.waitForStatus(job.id)).toMatchObject({ status: 'done', attempts: 1 });
    }
    expect(messages(await api.allEvents(lost.id))).toEqual([
      'created: queued',
      'created: queue entry lost; re-queued',
      'processing: attempt 1 of 3 started',
      'done: done',
    ]);
    expect((await api.allEvents(kept.id)).map((e) => e.status)).toEqual([
      'created',
      'processing',
      'done',
    ]);
  });

  it('re-queues a processing job whose entry is gone, counting the attempt it lost', async () => {
    const api = new Api(stack, uniqueUser('rec'));
    await admin.pause('echo');
    const job = await api.submitOk('echo', { text: 'mid-run' });
    await lifecycle.apply(job.id, { type: 'processing', attempt: 1 });
    expect(await queue.remove(job.id)).toBe(1);

    expect(await reconciler.reconcile(later())).toEqual({ requeued: 1, failed: 0 });
    await admin.resume('echo');
    expect(await api.waitForStatus(job.id)).toMatchObject({
      status: 'done',
      attempts: 2,
      result: { attempt: 2 },
    });
    expect(messages(await api.allEvents(job.id)).slice(1)).toEqual([
      'processing: attempt 1 of 3 started',
      'created: queue entry lost during attempt 1; re-queued',
      'processing: attempt 2 of 3 started',
      'done: done',
    ]);
  });

  it('fails a job whose entry was lost during its last attempt: never more than maxAttempts', async () => {
    const api = new Api(stack, uniqueUser('rec'));
    await admin.pause('echo');
    const job = await api.submitOk('echo', { text: 'last' });
    await lifecycle.apply(job.id, { type: 'processing', attempt: 3 });
    expect(await queue.remove(job.id)).toBe(1);

    expect(await reconciler.reconcile(later())).toEqual({ requeued: 0, failed: 1 });
    expect(await api.job(job.id)).toMatchObject({
      status: 'error',
      attempts: 3,
      maxAttempts: 3,
      error: 'queue entry lost during attempt 3 of 3',
    });
    expect(await reconciler.reconcile(later())).toEqual({ requeued: 0, failed: 0 });
  });

  it('re-queues a job BullMQ holds as finished while its row is unfinished', async () => {
    const api = new Api(stack, uniqueUser('rec'));
    await admin.pause('echo');
    const job = await api.submitOk('echo', { text: 'stranded' });
    await lifecycle.apply(job.id, { type: 'processing', attempt: 1 });
    // As when the run ended in BullMQ while the database could not record it.
    const redis = new Redis(TEST_REDIS_URL);
    try {
      expect(
        await redis.zrem(`${queuePrefix(stack.prefix, 'echo')}:echo:prioritized`, job.id),
      ).toBe(1);
      await redis.zadd(`${queuePrefix(stack.prefix, 'echo')}:echo:failed`, Date.now(), job.id);
    } finally {
      redis.disconnect();
    }
    expect(await queue.getJobState(job.id)).toBe('failed');

    expect(await reconciler.reconcile(later())).toEqual({ requeued: 1, failed: 0 });
    await admin.resume('echo');
    expect(await api.waitForStatus(job.id)).toMatchObject({ status: 'done', attempts: 2 });
  });
});
