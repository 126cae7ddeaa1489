import Redis from 'ioredis';
import { Client } from 'pg';
import { startStack, tokenFor, type TestStack } from '../support/app';
import { echoKind } from '../support/test-kinds';
import { freePort } from '../support/ports';
import { RedisServer } from '../support/redis-server';
import { waitFor } from '../support/wait';

interface JobBody {
  id: string;
  status: string;
  result: Record<string, unknown> | null;
}

const RESPONSE_BOUND_MS = 10_000;
const UUID_SUFFIX = /:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('Redis going away under a running api', () => {
  let redis: RedisServer;
  let stack: TestStack | undefined;
  let pg: Client | undefined;
  const auth = `Bearer ${tokenFor('redis-down-user')}`;

  beforeAll(async () => {
    redis = new RedisServer(await freePort());
    await redis.start();
    stack = await startStack('redis-down', [echoKind], { REDIS_URL: redis.url });
    pg = new Client({ connectionString: stack.db.url });
    await pg.connect();
  });

  afterAll(async () => {
    await pg?.end();
    if (stack) {
      if (redis && !redis.running) await redis.start().catch(() => undefined);
      await stack.close();
    }
    await redis?.stop('SIGKILL');
  });

  function api(): TestStack {
    if (!stack) throw new Error('stack did not start');
    return stack;
  }

  function submit(text: string) {
    return api()
      .http()
      .post('/api/v1/jobs/echo')
      .timeout(RESPONSE_BOUND_MS)
      .set('Authorization', auth)
      .send({ projectId: 'p-redis', params: { text } });
  }

  async function jobRows(): Promise<number> {
    if (!pg) throw new Error('no database client');
    const { rows } = await pg.query<{ n: number }>('SELECT count(*)::int AS n FROM "Job"');
    return rows[0]?.n ?? -1;
  }

  /** Advances when a row and its created event were written, even if they were removed again. */
  async function eventSequence(): Promise<number> {
    if (!pg) throw new Error('no database client');
    const { rows } = await pg.query<{ n: string }>('SELECT last_value AS n FROM "JobEvent_id_seq"');
    return Number(rows[0]?.n ?? -1);
  }

  function finished(id: string) {
    return waitFor(`job ${id} to be done`, async () => {
      const res = await api().http().get(`/api/v1/jobs/${id}`).set('Authorization', auth);
      const body = res.body as JobBody;
      return body.status === 'done' ? body : undefined;
    });
  }

  it('accepts and runs a job while Redis is up', async () => {
    const res = await submit('before').expect(202);
    await finished((res.body as JobBody).id);
    expect(await jobRows()).toBe(1);
  });

  it('leaves no Job row and no queue entry when Redis refuses the enqueue after the insert', async () => {
    const admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    const queuedJobKeys = async () =>
      (await admin.keys(`${api().prefix}:echo:*`)).filter((key) => UUID_SUFFIX.test(key)).sort();
    try {
      const rowsBefore = await jobRows();
      const keysBefore = await queuedJobKeys();
      const eventSeqBefore = await eventSequence();
      await admin.call('ACL', 'SETUSER', 'default', '-@scripting');
      let res;
      try {
        res = await submit('refused');
      } finally {
        await admin.call('ACL', 'SETUSER', 'default', '+@all');
      }
      expect(res.status).toBe(500);
      expect(res.body).toEqual({
        statusCode: 500,
        error: 'Internal Server Error',
        message: expect.any(String),
      });
      expect(await eventSequence()).toBeGreaterThan(eventSeqBefore);
      expect(await jobRows()).toBe(rowsBefore);
      expect(await queuedJobKeys()).toEqual(keysBefore);
    } finally {
      admin.disconnect();
    }
  });

  it('answers 503 naming Redis, leaves no Job row, and reports not ready while Redis is down', async () => {
    const rowsBefore = await jobRows();
    await redis.stop();

    const res = await submit('while-down');
    expect(res.status).toBe(503);
    expect(res.body).toEqual({
      statusCode: 503,
      error: 'Service Unavailable',
      message: expect.stringMatching(/redis/i),
    });
    expect(await jobRows()).toBe(rowsBefore);

    const ready = await api().http().get('/health/ready').timeout(RESPONSE_BOUND_MS);
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ checks: { redis: 'down', database: 'up' } });
    await api().http().get('/health/live').timeout(RESPONSE_BOUND_MS).expect(200);
  });

  it('accepts and runs jobs again once Redis is back on the same port', async () => {
    await redis.start();
    const accepted = await waitFor(
      'a submit to be accepted after Redis restarted',
      async () => {
        const res = await submit('after');
        return res.status === 202 ? (res.body as JobBody) : undefined;
      },
      20_000,
      200,
    );
    const job = await finished(accepted.id);
    expect(job.result).toMatchObject({ text: 'after' });
    await api().http().get('/health/ready').expect(200);
  });
});
