import { randomBytes } from 'node:crypto';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { createConveyor } from '../../src/app.factory';
import { JwtService } from '../../src/auth/jwt.service';
import type { JobKind } from '../../src/core/job.types';
import { TEST_JWT_SECRET, testConfig } from '../support/app';
import {
  expectOneLineRefusal,
  killAllConveyors,
  spawnConveyor,
  startConveyor,
} from '../support/conveyor-process';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { dropPrefix, uniquePrefix } from '../support/redis';
import { echoKind } from '../support/test-kinds';
import { freePort } from '../support/ports';
import { waitFor } from '../support/wait';

/** Covers ts-node compiling the app in the child as well as the start-up itself. */
const EXIT_BOUND_MS = 30_000;

/** TCP ports the process listens on, from its socket inodes and /proc/net/tcp{,6}. */
async function listeningPorts(pid: number): Promise<number[]> {
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const link = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
    if (inode) inodes.add(inode);
  }
  const ports = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const lines = (await readFile(table, 'utf8').catch(() => '')).split('\n').slice(1);
    for (const line of lines) {
      const [, local = '', , state, , , , , , inode = ''] = line.trim().split(/\s+/);
      if (state === '0A' && inodes.has(inode)) ports.add(parseInt(local.split(':')[1] ?? '', 16));
    }
  }
  return [...ports];
}

describe('start-up of a Conveyor process', () => {
  let db: TestDatabase;
  const prefix = uniquePrefix('startup');

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await killAllConveyors();
    await dropPrefix(prefix);
    await db?.drop();
  });

  function baseEnv(): Record<string, string> {
    return {
      DATABASE_URL: db.url,
      QUEUE_PREFIX: prefix,
      JWT_SECRET: TEST_JWT_SECRET,
      LOG_LEVEL: 'info',
      PORT: '0',
    };
  }

  it('exits non-zero with one line naming where Redis was looked for and how to start it', async () => {
    const port = await freePort();
    const password = `redis-pw-${randomBytes(6).toString('hex')}`;
    const proc = spawnConveyor('no-redis', {
      ...baseEnv(),
      REDIS_URL: `redis://:${password}@127.0.0.1:${port}`,
    });
    const line = await expectOneLineRefusal(proc, EXIT_BOUND_MS);
    expect(line).toContain(`127.0.0.1:${port}`);
    expect(line).toMatch(/REDIS_URL/);
    expect(line).toMatch(/redis-server|docker compose up/);
    expect(proc.stdout + proc.stderr).not.toContain(password);
  });

  const without = (env: Record<string, string>, name: string) =>
    Object.fromEntries(Object.entries(env).filter(([key]) => key !== name));

  it.each<[string, (env: Record<string, string>) => Record<string, string>, RegExp]>([
    ['PORT', (env) => ({ ...env, PORT: 'abc' }), /PORT must be an integer \(got "abc"\)/],
    ['APP_ROLE', (env) => ({ ...env, APP_ROLE: 'bogus' }), /APP_ROLE must be one of api, worker/],
    [
      'JWT_SECRET',
      (env) => ({ ...without(env, 'JWT_SECRET'), NODE_ENV: 'production' }),
      /JWT_SECRET is required when NODE_ENV=production/,
    ],
    ['JOB_LOCK_MS', (env) => ({ ...env, JOB_LOCK_MS: '10' }), /JOB_LOCK_MS must be between 1000/],
    [
      'REDIS_URL',
      (env) => ({ ...env, REDIS_URL: 'http://127.0.0.1:6379' }),
      /REDIS_URL must use redis: or rediss:/,
    ],
  ])(
    'exits non-zero with one line naming %s and the reason when it is bad',
    async (variable, configure, reason) => {
      const proc = spawnConveyor(`bad-${variable}`, configure(baseEnv()));
      const line = await expectOneLineRefusal(proc, EXIT_BOUND_MS);
      expect(line).toContain(variable);
      expect(line).toMatch(reason);
      expect(proc.stdout).not.toMatch(/ready/);
    },
  );

  it('runs APP_ROLE=worker without listening on HTTP', async () => {
    const { proc, ready } = await startConveyor('worker-only', {
      ...baseEnv(),
      APP_ROLE: 'worker',
      PORT: String(await freePort()),
    });
    expect(ready).toEqual({ role: 'worker', port: undefined });
    expect(await listeningPorts(proc.pid)).toEqual([]);
    proc.signal('SIGTERM');
    const exit = await proc.waitForExit(EXIT_BOUND_MS);
    expect(exit.code === 0 || exit.signal === 'SIGTERM').toBe(true);
  });

  it('refuses to start with a registered kind that has no processor, naming the kind', async () => {
    const orphan = { ...echoKind, name: 'orphan-kind', processor: undefined } as unknown as JobKind;
    const config = testConfig({ DATABASE_URL: db.url, QUEUE_PREFIX: prefix, APP_ROLE: 'worker' });
    const outcome = await createConveyor(config, [echoKind, orphan]).then(
      async (app) => {
        await app.close();
        return 'started';
      },
      (error: unknown) => error,
    );
    expect(outcome).toBeInstanceOf(Error);
    expect((outcome as Error).message).toMatch(/"orphan-kind".*no processor/);
  });

  it('never writes the JWT secret, the database password or a bearer token to its logs', async () => {
    const secret = `jwt-${randomBytes(16).toString('hex')}`;
    const dbPassword = `db-${randomBytes(12).toString('hex')}`;
    const dbUrl = new URL(db.url);
    dbUrl.password = dbPassword;
    const { proc, ready } = await startConveyor('secrets', {
      ...baseEnv(),
      APP_ROLE: 'all',
      JWT_SECRET: secret,
      DATABASE_URL: dbUrl.toString(),
      LOG_LEVEL: 'trace',
    });
    expect(await listeningPorts(proc.pid)).toContain(ready.port);
    const base = `http://127.0.0.1:${ready.port}`;
    const token = new JwtService({ jwtSecret: secret }).sign({ id: 'secret-user', roles: [] });
    const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };

    const submitted = await fetch(`${base}/api/v1/jobs/echo`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ projectId: 'p-secret', params: { text: 'hi', steps: 2 } }),
    });
    expect(submitted.status).toBe(202);
    const { id } = (await submitted.json()) as { id: string };
    await waitFor(`job ${id} to be done`, async () => {
      const res = await fetch(`${base}/api/v1/jobs/${id}`, { headers });
      return ((await res.json()) as { status: string }).status === 'done';
    });
    const rejected = await fetch(`${base}/api/v1/jobs`, {
      headers: { Authorization: `Bearer ${token}x` },
    });
    expect(rejected.status).toBe(401);
    const invalid = await fetch(`${base}/api/v1/jobs/echo`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ projectId: 'p-secret', params: { text: 42 } }),
    });
    expect(invalid.status).toBe(400);
    expect((await fetch(`${base}/health/ready`)).status).toBe(200);

    proc.signal('SIGTERM');
    await proc.waitForExit(EXIT_BOUND_MS);
    const logs = proc.stdout + proc.stderr;
    expect(logs).toContain(`/api/v1/jobs/${id}`);
    for (const leaked of [secret, dbPassword, token, token.split('.')[2] ?? token]) {
      expect(logs).not.toContain(leaked);
    }
  });
});
