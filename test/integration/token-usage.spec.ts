import { randomUUID } from 'node:crypto';
import { loadConfig } from '../../src/config/app-config';
import { JobRepository } from '../../src/core/job.repository';
import { TokenUsageRepository } from '../../src/core/token-usage.repository';
import type { SqlQuery } from '../../src/database/database.tokens';
import type { OpenedDatabase } from '../../src/database/prisma-client.factory';

import { pgliteBackend, postgresBackend } from '../support/database-backends';

// Real PGlite, loaded outside Jest's module sandbox (see nativePGliteModule).
jest.mock('@electric-sql/pglite', () =>
  jest
    .requireActual<typeof import('../support/database')>('../support/database')
    .nativePGliteModule(),
);

/** Token usage is written by conveyor_write_jobs with each `done` (docs/usage.md). */
describe.each([postgresBackend(), pgliteBackend()])('token usage on $name', (backend) => {
  let opened: OpenedDatabase;
  let sqlCalls = 0;
  let jobs: JobRepository;
  let usage: TokenUsageRepository;

  beforeAll(async () => {
    opened = await backend.open();
    const counted: SqlQuery = (text, params) => {
      sqlCalls += 1;
      return opened.query(text, params);
    };
    const config = loadConfig({
      NODE_ENV: 'test',
      JWT_SECRET: 'x'.repeat(16),
      WRITE_BATCH_WINDOW_MS: '50',
    });
    jobs = new JobRepository(opened.prisma, counted, config);
    usage = new TokenUsageRepository(opened.prisma);
  });

  afterAll(async () => {
    await jobs?.onApplicationShutdown();
    await opened?.close();
    await backend.cleanup();
  });

  /** A job created and started, ready for its `done`. */
  async function running(userId: string): Promise<string> {
    const id = randomUUID();
    await jobs.create({
      id,
      kind: 'k',
      userId,
      projectId: 'p',
      requestId: null,
      priority: 5,
      params: {},
      maxAttempts: 1,
      idempotencyKey: null,
      idempotencyHash: null,
    });
    await jobs.transition(id, { type: 'processing', attempt: 1 });
    return id;
  }

  const tokens = (provider: string, model: string, inputTokens: number, outputTokens: number) => ({
    provider,
    model,
    inputTokens,
    outputTokens,
  });

  it("adds each done write's usage to its user's day, provider and model, in the batch's one call", async () => {
    const [alice, bob] = [`alice-${randomUUID()}`, `bob-${randomUUID()}`];
    const ids = await Promise.all([running(alice), running(alice), running(alice), running(bob)]);
    const before = sqlCalls;
    const written = await Promise.all([
      jobs.transition(ids[0], { type: 'done', result: {}, usage: tokens('xai', 'grok', 120, 30) }),
      jobs.transition(ids[1], { type: 'done', result: {}, usage: tokens('xai', 'grok', 5, 7) }),
      jobs.transition(ids[2], { type: 'done', result: {}, usage: tokens('google', 'gem', 1, 2) }),
      jobs.transition(ids[3], { type: 'done', result: {}, usage: tokens('xai', 'grok', 9, 4) }),
    ]);
    expect(written.map((outcome) => outcome?.job.status)).toEqual(['done', 'done', 'done', 'done']);
    expect(sqlCalls - before).toBe(1);

    const today = new Date().toISOString().slice(0, 10);
    const row = (
      userId: string,
      provider: string,
      model: string,
      input: number,
      output: number,
    ) => ({
      userId,
      day: today,
      ...tokens(provider, model, input, output),
    });
    expect(await usage.rows(today, today, alice)).toEqual([
      row(alice, 'google', 'gem', 1, 2),
      row(alice, 'xai', 'grok', 125, 37),
    ]);
    expect(await usage.rows(today, today, bob)).toEqual([row(bob, 'xai', 'grok', 9, 4)]);
    expect(await usage.dayTotal(alice, today)).toBe(165);
    expect(await usage.rows('2000-01-01', '2000-01-31', alice)).toEqual([]);
  });

  it('adds up dones of one user, day and model written by two writers at once', async () => {
    const dave = `dave-${randomUUID()}`;
    const config = loadConfig({ NODE_ENV: 'test', JWT_SECRET: 'x'.repeat(16) });
    const other = new JobRepository(
      opened.prisma,
      (text, params) => opened.query(text, params),
      config,
    );
    try {
      const ids = await Promise.all(Array.from({ length: 8 }, () => running(dave)));
      const big = 3_000_000_000;
      await Promise.all(
        ids.map((id, i) =>
          (i % 2 === 0 ? jobs : other).transition(id, {
            type: 'done',
            result: {},
            usage: tokens('xai', 'grok', big, 1),
          }),
        ),
      );
      const today = new Date().toISOString().slice(0, 10);
      expect(await usage.rows(today, today, dave)).toEqual([
        { userId: dave, day: today, ...tokens('xai', 'grok', 8 * big, 8) },
      ]);
      expect(await usage.dayTotal(dave, today)).toBe(8 * big + 8);
    } finally {
      await other.onApplicationShutdown();
    }
  });

  it('records nothing for a done without usage, nor for a refused done', async () => {
    const carol = `carol-${randomUUID()}`;
    const plain = await running(carol);
    await jobs.transition(plain, { type: 'done', result: {} });
    // Done already: a second done is refused, and its usage is not counted.
    const again = await jobs.transition(plain, {
      type: 'done',
      result: {},
      usage: tokens('xai', 'grok', 50, 50),
    });
    expect(again).toBeNull();
    const today = new Date().toISOString().slice(0, 10);
    expect(await usage.rows(today, today, carol)).toEqual([]);
    expect(await usage.dayTotal(carol, today)).toBe(0);
  });
});
