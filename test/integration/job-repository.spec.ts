import { randomUUID } from 'node:crypto';
import { JobRepository } from '../../src/core/job.repository';
import type { OpenedDatabase } from '../../src/database/prisma-client.factory';
import { openMigrated } from '../support/migrated-database';
import { createTestDatabase, type TestDatabase } from '../support/database';

describe('JobRepository writes (real PostgreSQL)', () => {
  let db: TestDatabase;
  let opened: OpenedDatabase;
  let jobs: JobRepository;

  beforeAll(async () => {
    db = await createTestDatabase();
    opened = await openMigrated(db.url);
    jobs = new JobRepository(opened.prisma, opened.query);
  });

  afterAll(async () => {
    await opened?.close();
    await db?.drop();
  });

  async function submitted(userId = 'u1') {
    const outcome = await jobs.create({
      id: randomUUID(),
      kind: 'k',
      userId,
      projectId: 'p',
      requestId: null,
      priority: 5,
      params: { a: 1 },
      maxAttempts: 3,
      idempotencyKey: null,
      idempotencyHash: null,
    });
    if (!outcome.created) throw new Error('expected a new job');
    return outcome;
  }

  it('links each event to the same user’s previous one, across jobs', async () => {
    const first = await submitted('chain');
    const second = await submitted('chain');
    const started = await jobs.transition(first.job.id, { type: 'processing', attempt: 1 });
    expect(first.event.previousEventId).toBeNull();
    expect(second.event.previousEventId).toBe(first.event.id);
    expect(started?.event.previousEventId).toBe(second.event.id);
  });

  it('plans again instead of overwriting newer fields when planned from a stale copy', async () => {
    const { job } = await submitted();
    const started = await jobs.transition(job.id, { type: 'processing', attempt: 1 });
    await jobs.transition(job.id, { type: 'progress', progress: 50, message: 'halfway' });
    const stale = started!.job;
    const latest = await jobs.transition(job.id, { type: 'progress', progress: 60 }, stale);
    expect(latest?.job).toMatchObject({ progress: 60, message: 'halfway', version: 3 });
    expect(latest?.event).toMatchObject({ status: 'progress', progress: 60, message: 'halfway' });
  });

  it('refuses a change the current state does not allow, even from a copy that would', async () => {
    const { job } = await submitted();
    const started = await jobs.transition(job.id, { type: 'processing', attempt: 1 });
    await jobs.transition(job.id, { type: 'cancelled' });
    await expect(
      jobs.transition(job.id, { type: 'done', result: { late: true } }, started!.job),
    ).resolves.toBeNull();
    const row = await jobs.findById(job.id);
    expect(row).toMatchObject({ status: 'cancelled', result: null });
  });

  it('answers a second submit with the same idempotency key with the first job', async () => {
    const base = {
      kind: 'k',
      userId: 'idem',
      projectId: 'p',
      requestId: null,
      priority: 5,
      params: {},
      maxAttempts: 3,
      idempotencyKey: 'key',
      idempotencyHash: 'h',
    };
    const first = await jobs.create({ ...base, id: randomUUID() });
    const again = await jobs.create({ ...base, id: randomUUID() });
    expect(again).toEqual({ created: false, job: first.job });
  });
});
