import { killAllConveyors, startConveyor, type ConveyorProcess } from '../support/conveyor-process';
import { TEST_JWT_SECRET } from '../support/app';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { dropPrefix, TEST_REDIS_URL, uniquePrefix } from '../support/redis';

/** A request line as pino-pretty renders it: time, level, message, on one line. */
const PRETTY_LINE = /^\[\d\d:\d\d:\d\d\.\d{3}\] WARN \(.*\): request completed/m;

describe('log format', () => {
  let db: TestDatabase;
  let prefix: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    prefix = uniquePrefix('logfmt');
  });

  afterAll(async () => {
    await killAllConveyors();
    await dropPrefix(prefix);
    await db.drop();
  });

  async function start(format: string): Promise<{ proc: ConveyorProcess; url: string }> {
    const { proc, ready } = await startConveyor(
      `api (${format})`,
      {
        APP_ROLE: 'api',
        PORT: '0',
        DATABASE_URL: db.url,
        QUEUE_PREFIX: prefix,
        REDIS_URL: TEST_REDIS_URL,
        JWT_SECRET: TEST_JWT_SECRET,
        LOG_LEVEL: 'info',
        LOG_FORMAT: format,
      },
      90_000,
    );
    return { proc, url: `http://127.0.0.1:${ready.port}` };
  }

  it('LOG_FORMAT=pretty renders request lines with pino-pretty; the token is not in them', async () => {
    const { proc, url } = await start('pretty');
    const res = await fetch(`${url}/api/v1/jobs`, {
      headers: { authorization: 'Bearer secret-abc' },
    });
    expect(res.status).toBe(401);
    const [line] = await proc.waitForOutput(PRETTY_LINE, 20_000);
    expect(line).not.toMatch(/^\{/);
    expect(proc.stdout).not.toContain('secret-abc');
  });

  it('without a terminal (auto), every log line is JSON', async () => {
    const { proc, url } = await start('auto');
    expect((await fetch(`${url}/api/v1/jobs`)).status).toBe(401);
    await proc.waitForOutput(/"msg":"request completed"/, 20_000);
    const lines = proc.stdout.split('\n').filter((l) => l !== '');
    for (const l of lines) expect(() => JSON.parse(l) as unknown).not.toThrow();
  });
});
