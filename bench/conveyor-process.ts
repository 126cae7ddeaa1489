import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Redis from 'ioredis';
import { Client } from 'pg';
import { JwtService } from '../src/auth/jwt.service';
import { Child } from './child';
import { ADMIN_DATABASE_URL, REDIS_URL } from './conveyor-stack';

const ROOT = resolve(__dirname, '..');

/** One Conveyor (APP_ROLE=all, from source, defaults) in its own process, on its own data. */
export interface ConveyorProcess {
  /** http://127.0.0.1:<port> */
  readonly base: string;
  /** A bearer token of user `bench`. */
  readonly token: string;
  /** A bearer token of any user. */
  tokenFor(user: string, roles?: string[]): string;
  /** Stops it and removes its database, Redis keys and data directory. */
  stop(): Promise<void>;
}

async function admin(sql: string): Promise<void> {
  const client = new Client({ connectionString: ADMIN_DATABASE_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * Starts it with `env` added to its defaults; on PGlite when `pglite`, else a fresh PostgreSQL
 * database; from `entry` (a file calling bootstrap, for a bench-only kind) when given.
 */
export async function startConveyorProcess(
  label: string,
  env: Record<string, string>,
  pglite = false,
  entry = 'src/main.ts',
): Promise<ConveyorProcess> {
  const id = randomBytes(4).toString('hex');
  const prefix = `bench-${label}-${id}`;
  const database = `conveyor_bench_${label.replace(/\W/g, '_')}_${id}`;
  const dataDir = mkdtempSync(join(tmpdir(), `conveyor-bench-${label}-`));
  const secret = randomBytes(24).toString('hex');
  const databaseUrl = new URL(ADMIN_DATABASE_URL);
  databaseUrl.pathname = `/${database}`;
  if (!pglite) await admin(`CREATE DATABASE "${database}"`);
  const conveyor = new Child(
    'conveyor',
    process.execPath,
    ['-r', 'ts-node/register/transpile-only', entry],
    {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        NODE_ENV: 'production',
        APP_ROLE: 'all',
        PORT: '0',
        JWT_SECRET: secret,
        REDIS_URL,
        QUEUE_PREFIX: prefix,
        DATA_DIR: dataDir,
        LOG_LEVEL: 'warn',
        ...(pglite ? {} : { DATABASE_URL: databaseUrl.toString() }),
        ...env,
      },
    },
  );
  const stop = async () => {
    await conveyor.stop(20_000);
    if (!pglite) {
      await admin(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`).catch(() => undefined);
    }
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const ready = await conveyor.waitForOutput(/conveyor all ready on port (\d+)/, 120_000);
    const jwt = new JwtService({ jwtSecret: secret });
    const tokenFor = (user: string, roles: string[] = []) => jwt.sign({ id: user, roles }, 3600);
    return { base: `http://127.0.0.1:${ready[1]}`, token: tokenFor('bench'), tokenFor, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
