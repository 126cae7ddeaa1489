import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication, INestApplicationContext } from '@nestjs/common';
import request from 'supertest';
import { createConveyor, isHttpApp } from '../../src/app.factory';
import { JwtService } from '../../src/auth/jwt.service';
import { loadConfig, type AppConfig } from '../../src/config/app-config';
import type { JobKind } from '../../src/core/job.types';
import { createTestDatabase, type TestDatabase } from './database';
import { dropPrefix, testRedisEnv, uniquePrefix } from './redis';

export const TEST_JWT_SECRET = 'test-secret-for-conveyor-tests-only';

export function testConfig(env: Record<string, string>): AppConfig {
  return loadConfig({
    NODE_ENV: 'test',
    JWT_SECRET: TEST_JWT_SECRET,
    ...testRedisEnv(),
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    PROGRESS_INTERVAL_MS: '0',
    ...env,
  });
}

export function tokenFor(user: string, roles: string[] = [], ttlSec = 3600): string {
  return new JwtService({ jwtSecret: TEST_JWT_SECRET }).sign({ id: user, roles }, ttlSec);
}

export interface TestStack {
  app: INestApplication;
  config: AppConfig;
  db: TestDatabase;
  prefix: string;
  http: () => ReturnType<typeof request>;
  close(): Promise<void>;
}

/** One isolated Conveyor (own database, own Redis prefix) per test file, listening on a real port. */
export async function startStack(
  label: string,
  kinds: readonly JobKind[],
  env: Record<string, string> = {},
): Promise<TestStack> {
  const db = await createTestDatabase();
  const prefix = uniquePrefix(label);
  const dataDir = await mkdtemp(join(tmpdir(), `conveyor-${label}-`));
  const config = testConfig({
    DATABASE_URL: db.url,
    QUEUE_PREFIX: prefix,
    PORT: '0',
    DATA_DIR: dataDir,
    ...env,
  });
  let app: INestApplication | INestApplicationContext | undefined;
  try {
    app = await createConveyor(config, kinds);
    if (!isHttpApp(app)) throw new Error('startStack needs an api role');
    await app.listen(0, '127.0.0.1');
  } catch (error) {
    await app?.close();
    await db.drop();
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  const httpApp = app;
  return {
    app: httpApp,
    config,
    db,
    prefix,
    http: () => request(httpApp.getHttpServer()),
    close: async () => {
      await httpApp.close();
      await dropPrefix(prefix);
      await db.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * The environment of a worker process joining a stack (its database and prefix), one job at a
 * time and quick to be taken over when it dies; `env` adds to it or overrides it.
 */
export function crashableWorkerEnv(
  stack: Pick<TestStack, 'db' | 'prefix'>,
  env: Record<string, string> = {},
): Record<string, string> {
  return {
    APP_ROLE: 'worker',
    DATABASE_URL: stack.db.url,
    QUEUE_PREFIX: stack.prefix,
    JWT_SECRET: TEST_JWT_SECRET,
    LOG_LEVEL: 'warn',
    JOB_CONCURRENCY: '1',
    JOB_LOCK_MS: '2000',
    JOB_STALLED_INTERVAL_MS: '1000',
    ...env,
  };
}
