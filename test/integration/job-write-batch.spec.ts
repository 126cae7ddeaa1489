import { randomUUID } from 'node:crypto';
import { loadConfig } from '../../src/config/app-config';
import { JobRepository, type NewJob } from '../../src/core/job.repository';
import type { OpenedDatabase } from '../../src/database/prisma-client.factory';
import { openMigrated } from '../support/migrated-database';
import type { SqlQuery } from '../../src/database/database.tokens';
import { createTestDatabase, type TestDatabase } from '../support/database';

/** Group commit against real PostgreSQL: many jobs' writes in one call, each answered alone. */
describe('JobRepository group commit (real PostgreSQL)', () => {
  let db: TestDatabase;
  let opened: OpenedDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
    opened = await openMigrated(db.url);
  });

  afterAll(async () => {
    await opened?.close();
    await db?.drop();
  });

  /** Round trips of the write path: every call of the repository's SQL. */
  let sqlCalls = 0;
  const countedQuery: SqlQuery = (text, params) => {
    sqlCalls += 1;
    return opened.query(text, params);
  };

  /** A repository whose batches gather everything added within 50 ms. */
  function repository(maxSize = 500): JobRepository {
    const config = loadConfig({
      NODE_ENV: 'test',
      JWT_SECRET: 'x'.repeat(16),
      WRITE_BATCH_WINDOW_MS: '50',
      WRITE_BATCH_MAX_SIZE: String(maxSize),
    });
    return new JobRepository(opened.prisma, countedQuery, config);
  }

  function newJob(userId: string, extra: Partial<NewJob> = {}): NewJob {
    return {
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
      ...extra,
    };
  }

  async function userChain(userId: string): Promise<{ id: bigint; previous: bigint | null }[]> {
    const rows = await opened.prisma.jobEvent.findMany({
      where: { userId },
      orderBy: { id: 'asc' },
      select: { id: true },
    });
    return rows.map((row, i) => ({ id: row.id, previous: i === 0 ? null : rows[i - 1].id }));
  }

  it('writes the creates of many users in one call, each event linked to its user’s previous one', async () => {
    const jobs = repository();
    const users = ['batch-a', 'batch-b', 'batch-c'];
    const callsBefore = sqlCalls;
    const outcomes = await Promise.all(
      Array.from({ length: 30 }, (_, i) => jobs.create(newJob(users[i % 3]))),
    );
    expect(sqlCalls - callsBefore).toBe(1);
    for (const user of users) {
      const chain = await userChain(user);
      expect(chain).toHaveLength(10);
      const byId = new Map(outcomes.flatMap((o) => (o.created ? [[o.event.id, o.event]] : [])));
      for (const link of chain)
        expect(byId.get(link.id)?.previousEventId ?? null).toBe(link.previous);
    }
  });

  it('answers each write of a mixed batch alone: applied, refused, created', async () => {
    const jobs = repository();
    const [queued, other] = await Promise.all([
      jobs.create(newJob('mixed')),
      jobs.create(newJob('mixed')),
    ]);
    if (!queued.created || !other.created) throw new Error('expected new jobs');
    await jobs.transition(other.job.id, { type: 'cancelled' });
    const callsBefore = sqlCalls;
    const [started, refused, created] = await Promise.all([
      jobs.transition(queued.job.id, { type: 'processing', attempt: 1 }, queued.job),
      // Planned from a stale copy (queued) of a job that was cancelled meanwhile: re-read, refused.
      jobs.transition(other.job.id, { type: 'processing', attempt: 1 }, other.job),
      jobs.create(newJob('mixed')),
    ]);
    expect(sqlCalls - callsBefore).toBe(1);
    expect(started?.job).toMatchObject({ status: 'processing', attempts: 1 });
    expect(refused).toBeNull();
    expect(created.created).toBe(true);
    expect(await jobs.findById(other.job.id)).toMatchObject({ status: 'cancelled' });
    const chain = await userChain('mixed');
    const latest = [started!.event, created.created ? created.event : undefined]
      .filter((event) => event !== undefined)
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    for (const event of latest) {
      expect(event.previousEventId).toBe(chain.find((link) => link.id === event.id)?.previous);
    }
  });

  it('creates one job for an idempotency key used twice in the same batch', async () => {
    const jobs = repository();
    const key = { idempotencyKey: 'same', idempotencyHash: 'h' };
    const [first, second] = await Promise.all([
      jobs.create(newJob('idem-batch', key)),
      jobs.create(newJob('idem-batch', key)),
    ]);
    expect([first.created, second.created].sort()).toEqual([false, true]);
    expect(first.job.id).toBe(second.job.id);
    expect(await opened.prisma.job.count({ where: { userId: 'idem-batch' } })).toBe(1);
  });

  it('keeps every user’s chain whole when two processes’ batches write the same users at once', async () => {
    const processes = [repository(7), repository(5)];
    const users = ['shared-1', 'shared-2', 'shared-3', 'shared-4'];
    const created = await Promise.all(
      Array.from({ length: 80 }, (_, i) =>
        processes[i % 2].create(newJob(users[(i * 7) % users.length])),
      ),
    );
    const started = await Promise.all(
      created.map((outcome, i) =>
        processes[(i + 1) % 2].transition(outcome.job.id, { type: 'processing', attempt: 1 }),
      ),
    );
    const events = new Map<bigint, bigint | null>();
    for (const outcome of started)
      if (outcome) events.set(outcome.event.id, outcome.event.previousEventId);
    for (const outcome of created)
      if (outcome.created) events.set(outcome.event.id, outcome.event.previousEventId);
    for (const user of users) {
      const chain = await userChain(user);
      expect(chain).toHaveLength(40);
      for (const link of chain) {
        expect(events.get(link.id)).toBe(link.previous);
      }
    }
  });
});
