import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { Client } from 'pg';
import { Child } from './child';

export const ADMIN_DATABASE_URL =
  process.env.BENCH_ADMIN_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

const READY = /conveyor (api|worker) ready(?: on port (\d+))?/;
const READY_TIMEOUT_MS = 90_000;
const STOP_GRACE_MS = 20_000;
const SAMPLES = 5;

export interface StackOptions {
  /** The repository root (the children's cwd). */
  root: string;
  /** The compiled bench entry (bench-main.js). */
  entry: string;
  concurrency: number;
  /** How many bench kinds (queues) the workers serve, sharing `concurrency`. */
  kinds: number;
  /** Extra node flags for both processes (e.g. --cpu-prof). */
  nodeArgs: string[];
  /** How many api and worker processes (1 each by default). */
  apis?: number;
  workers?: number;
  /**
   * REDIS_CLUSTER_NODES for the children: a private cluster the driver starts and stops (the keys
   * go with it, so cleanup leaves them).
   */
  redisClusterNodes?: string;
}

/** Warnings and errors a Conveyor process logged (LOG_LEVEL=warn), counted by first line. */
export class LogTally {
  count = 0;
  private readonly messages = new Map<string, number>();

  line(raw: string): void {
    if (raw.trim() === '') return;
    let level = 40; // not a pino line: worth seeing
    let msg = raw;
    try {
      const parsed = JSON.parse(raw) as { level?: unknown; msg?: unknown };
      level = typeof parsed.level === 'number' ? parsed.level : 0;
      msg = typeof parsed.msg === 'string' ? parsed.msg : raw;
    } catch {
      // keep the raw line
    }
    if (level < 40) return;
    this.count += 1;
    const key = msg.replace(/\s+/g, ' ').trim().slice(0, 400);
    if (this.messages.has(key) || this.messages.size < 100) {
      this.messages.set(key, (this.messages.get(key) ?? 0) + 1);
    }
  }

  /** The most frequent messages, "count × first line". */
  get samples(): string[] {
    return [...this.messages.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, SAMPLES)
      .map(([msg, n]) => `${n} × ${msg}`);
  }
}

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timeout: ${what} (${ms} ms)`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

async function admin<T>(work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({
    connectionString: ADMIN_DATABASE_URL,
    connectionTimeoutMillis: 10_000,
  });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await withTimeout(work(client), 60_000, 'PostgreSQL admin statement');
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * api and worker processes (one of each by default), as production runs them, against a database and a Redis key
 * prefix of their own; `cleanup` removes both.
 */
export class ConveyorStack {
  /** Stacks started and not yet cleaned up, for a driver interrupted by a signal. */
  static readonly active = new Set<ConveyorStack>();
  readonly id = randomBytes(4).toString('hex');
  readonly prefix = `bench-${this.id}`;
  readonly database = `conveyor_bench_${this.id}`;
  readonly jwtSecret = randomBytes(32).toString('hex');
  readonly logs = { api: new LogTally(), worker: new LogTally() };
  readonly apis: Child[] = [];
  readonly workers: Child[] = [];
  readonly ports: number[] = [];
  private readonly dataDir = mkdtempSync(join(tmpdir(), 'conveyor-bench-'));
  private databaseCreated = false;

  constructor(private readonly options: StackOptions) {}

  get databaseUrl(): string {
    const url = new URL(ADMIN_DATABASE_URL);
    url.pathname = `/${this.database}`;
    return url.toString();
  }

  async start(): Promise<void> {
    ConveyorStack.active.add(this);
    await admin((client) => client.query(`CREATE DATABASE "${this.database}"`));
    this.databaseCreated = true;
    // An api first: it applies the migrations; the others then find them done.
    for (let n = 0; n < (this.options.apis ?? 1); n += 1) {
      const api = this.spawn('api');
      this.apis.push(api);
      const [, , port] = await api.waitForOutput(READY, READY_TIMEOUT_MS);
      const parsed = Number(port);
      if (!Number.isInteger(parsed) || parsed <= 0) throw new Error('api: no port in ready line');
      this.ports.push(parsed);
    }
    for (let n = 0; n < (this.options.workers ?? 1); n += 1) {
      const worker = this.spawn('worker');
      this.workers.push(worker);
      await worker.waitForOutput(READY, READY_TIMEOUT_MS);
    }
  }

  get api(): Child | undefined {
    return this.apis[0];
  }

  get worker(): Child | undefined {
    return this.workers[0];
  }

  get port(): number {
    return this.ports[0] ?? 0;
  }

  /** SIGTERM both (graceful shutdown), SIGKILL what is still running after the grace period. */
  async stop(): Promise<{ api: boolean; worker: boolean }> {
    const stopAll = async (children: Child[]) =>
      (await Promise.all(children.map((child) => child.stop(STOP_GRACE_MS)))).every(Boolean);
    const [api, worker] = await Promise.all([stopAll(this.apis), stopAll(this.workers)]);
    return { api, worker };
  }

  /** Drops the database and the prefix's Redis keys; returns what could not be cleaned. */
  async cleanup(): Promise<string[]> {
    const problems: string[] = [];
    await this.stop();
    if (this.databaseCreated) {
      try {
        await admin((client) =>
          client.query(`DROP DATABASE IF EXISTS "${this.database}" WITH (FORCE)`),
        );
        this.databaseCreated = false;
      } catch (error) {
        problems.push(`database ${this.database} not dropped: ${(error as Error).message}`);
      }
    }
    try {
      if (!this.options.redisClusterNodes) {
        await withTimeout(this.deleteRedisKeys(), 60_000, 'deleting Redis keys');
      }
    } catch (error) {
      problems.push(`Redis keys ${this.prefix}:* not deleted: ${(error as Error).message}`);
    }
    rmSync(this.dataDir, { recursive: true, force: true });
    ConveyorStack.active.delete(this);
    return problems;
  }

  private async deleteRedisKeys(): Promise<void> {
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3, lazyConnect: true });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${this.prefix}:*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await redis.unlink(...keys);
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
  }

  private redisEnv(): Record<string, string> {
    const nodes = this.options.redisClusterNodes;
    if (!nodes) return { REDIS_URL };
    // REDIS_URL names a cluster node: a connection that ignored the cluster would fail loudly.
    return { REDIS_URL: `redis://${nodes.split(',')[0]}`, REDIS_CLUSTER_NODES: nodes };
  }

  private spawn(role: 'api' | 'worker'): Child {
    return new Child(
      `conveyor ${role}`,
      process.execPath,
      [...this.options.nodeArgs, this.options.entry],
      {
        cwd: this.options.root,
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: process.env.HOME ?? this.dataDir,
          NODE_ENV: 'production',
          APP_ROLE: role,
          PORT: '0',
          DATABASE_URL: this.databaseUrl,
          ...this.redisEnv(),
          QUEUE_PREFIX: this.prefix,
          JWT_SECRET: this.jwtSecret,
          LOG_LEVEL: 'warn',
          SUBMIT_LIMIT_PER_MINUTE: '1000000',
          DATA_DIR: this.dataDir,
          SHUTDOWN_GRACE_MS: '10000',
          BENCH_CONCURRENCY: String(this.options.concurrency),
          BENCH_KINDS: String(this.options.kinds),
          // Tuning knobs under measurement pass through (e.g. WRITE_BATCH_WINDOW_MS).
          ...Object.fromEntries(
            Object.entries(process.env).filter(([name]) => name.startsWith('WRITE_BATCH_')),
          ),
        },
        onLine: (line) => this.logs[role].line(line),
      },
    );
  }
}
