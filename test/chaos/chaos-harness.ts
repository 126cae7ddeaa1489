import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Redis, { Cluster } from 'ioredis';
import { Client } from 'pg';
import { io, type Socket } from 'socket.io-client';
import { JwtService } from '../../src/auth/jwt.service';
import { startConveyor, type ConveyorProcess } from '../support/conveyor-process';
import { startFakeLlm, type FakeLlmServer } from '../support/fake-llm/fake-llm-server';
import { freePort } from '../support/ports';
import { PostgresCluster } from '../support/postgres-cluster';
import { clusterSlotOf, RedisCluster } from '../support/redis-cluster';
import { RedisServer } from '../support/redis-server';

export const FAULTS = [
  'worker-sigkill',
  'worker-sigterm',
  'api-sigkill',
  'redis-restart',
  'redis-sigkill',
  'redis-entries-lost',
  'postgres-restart',
  'worker-partition',
  'worker-sigkill+api-sigkill',
  'worker-partition+redis-restart',
  'redis-master-sigkill',
] as const;
export type Fault = (typeof FAULTS)[number];

/** One private redis-server, or a Redis Cluster of 3 masters with a replica each. */
export type ChaosRedis = 'single' | 'cluster';

/** Faults that stop the one redis-server (single mode only). */
const SINGLE_REDIS_FAULTS: readonly Fault[] = [
  'redis-restart',
  'redis-sigkill',
  'worker-partition+redis-restart',
];
/** Faults that kill a cluster node (cluster mode only). */
const CLUSTER_REDIS_FAULTS: readonly Fault[] = ['redis-master-sigkill'];

/** The faults a run on this Redis can inject. */
export function faultsFor(mode: ChaosRedis): Fault[] {
  const other = mode === 'single' ? CLUSTER_REDIS_FAULTS : SINGLE_REDIS_FAULTS;
  return FAULTS.filter((fault) => !other.includes(fault));
}

/** Refuses faults that the chosen Redis cannot have (e.g. killing a master of a single node). */
export function checkFaults(mode: ChaosRedis, faults: readonly Fault[]): void {
  const allowed = faultsFor(mode);
  const wrong = faults.filter((fault) => !allowed.includes(fault));
  if (wrong.length > 0) {
    throw new Error(
      `fault(s) ${wrong.join(', ')} need ${mode === 'single' ? 'a Redis Cluster' : 'a single Redis'} ` +
        `(redis: '${mode === 'single' ? 'cluster' : 'single'}'); with redis: '${mode}' the faults are ` +
        allowed.join(', '),
    );
  }
}

export interface ChaosOptions {
  faults: readonly Fault[];
  users: number;
  projectsPerUser: number;
  /** Concurrent submit loops, and the pause between two submits of one loop. */
  submitters: number;
  submitEveryMs: number;
  /** Steady load before the first fault and after the last. */
  calmMs: number;
  /** Bound on waiting for every accepted job to finish once the load stops. */
  drainMs: number;
  /** Start a new process in place of one killed or stopped (false: the others carry on). */
  replaceKilled: boolean;
  /** 'single' by default. */
  redis?: ChaosRedis;
  log: (line: string) => void;
}

export interface FaultFigure {
  fault: Fault;
  /** From the fault to the first job finishing after it; null if none did within the bound. */
  recoveryMs: number | null;
  /** /health/ready answers seen while the dependency was down (status codes), if it was. */
  readyWhileDown: number[];
  /** From the dependency being back to /health/ready answering 200 on every api. */
  readyBackMs: number | null;
  /** A cluster node killed: from the kill to a replica serving its slots with the cluster ok. */
  clusterRecoveredInMs: number | null;
}

export interface ChaosReport {
  accepted: number;
  rejected: number;
  finished: Record<string, number>;
  /** Why the jobs that ended in error did, by message. */
  errors: Record<string, number>;
  lost: number;
  doneTwice: number;
  attemptsOverMax: number;
  recovered: number;
  missingEvents: number;
  duplicatedEvents: number;
  clients: number;
  reconnects: number;
  faults: FaultFigure[];
  ok: boolean;
}

const SECRET = 'chaos-secret-for-conveyor-tests-only';
const LOCK_MS = 3000;
const TERMINAL = ['done', 'error', 'cancelled'];
const KINDS = ['echo', 'test-execution', 'code-generation', 'indexing'] as const;
const ANSWER =
  'Here it is.\n\n<file path="src/sum.js">\nmodule.exports = (a, b) => a + b;\n</file>\n';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function pick<T>(items: readonly T[]): T {
  return items[Math.floor(Math.random() * items.length)];
}

function writeFiles(root: string, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
}

/** One user's socket: resumes with the last eventId it received on whichever api is up. */
class ChaosClient {
  readonly received: string[] = [];
  reconnects = 0;
  private socket: Socket | undefined;
  private closed = false;
  lastEventId = '0';

  constructor(
    readonly user: string,
    private readonly token: string,
    private readonly apis: () => string[],
    private readonly onDone: () => void,
  ) {}

  connect(): void {
    if (this.closed) return;
    const urls = this.apis();
    if (urls.length === 0) {
      setTimeout(() => this.connect(), 200);
      return;
    }
    const socket = io(pick(urls), {
      auth: { token: this.token, lastEventId: this.lastEventId },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      timeout: 5000,
    });
    this.socket = socket;
    socket.onAny((...args: unknown[]) => {
      const payload = args[1] as { eventId?: unknown; status?: unknown } | undefined;
      if (typeof payload?.eventId !== 'string') return;
      this.received.push(payload.eventId);
      if (BigInt(payload.eventId) > BigInt(this.lastEventId)) this.lastEventId = payload.eventId;
      if (payload.status === 'done' || payload.status === 'error') this.onDone();
    });
    const again = () => {
      socket.removeAllListeners();
      socket.close();
      if (this.closed) return;
      this.reconnects += 1;
      setTimeout(() => this.connect(), 200);
    };
    socket.once('disconnect', again);
    socket.once('connect_error', again);
  }

  close(): void {
    this.closed = true;
    this.socket?.removeAllListeners();
    this.socket?.close();
  }
}

/**
 * The chaos run: private Redis (one AOF server, or a cluster of 3 masters + 3 replicas) and
 * PostgreSQL, two api and two worker processes, socket
 * clients per user, a steady mixed load, then the faults one after another (some together),
 * and the checks. Everything it starts it stops.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const { log } = options;
  const mode = options.redis ?? 'single';
  checkFaults(mode, options.faults);
  const root = mkdtempSync(join(tmpdir(), 'conveyor-chaos-'));
  const aofDir = join(root, 'redis');
  const dataDir = join(root, 'data');
  mkdirSync(aofDir);
  mkdirSync(dataDir);
  const redis = new RedisServer(await freePort(), {
    appendOnlyDir: aofDir,
    appendFsync: 'everysec',
  });
  let cluster: RedisCluster | undefined;
  const postgres = new PostgresCluster(await freePort());
  let llm: FakeLlmServer | undefined;
  const procs = { api: [] as ConveyorProcess[], worker: [] as ConveyorProcess[] };
  const apiUrls = new Map<ConveyorProcess, string>();
  const clients: ChaosClient[] = [];
  let db: Client | undefined;
  let stopLoad = false;
  const loops: Promise<void>[] = [];
  const doneTimes: number[] = [];
  try {
    let redisEnv: Record<string, string>;
    if (mode === 'cluster') {
      cluster = await RedisCluster.start({ masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 1500 });
      // REDIS_URL names a cluster node: a connection that ignored the cluster would fail loudly.
      redisEnv = {
        REDIS_URL: `redis://${cluster.nodeList.split(',')[0]}`,
        REDIS_CLUSTER_NODES: cluster.nodeList,
      };
      log(
        `redis cluster on ${cluster.nodeList} (3 masters + 1 replica each, node timeout 1500 ms)`,
      );
    } else {
      await redis.start();
      redisEnv = { REDIS_URL: redis.url };
      log(`redis on ${redis.port} (appendonly, everysec)`);
    }
    await postgres.init();
    log(`postgres on ${postgres.port}`);
    llm = await startFakeLlm('openai-chat', {
      tokens: ANSWER.match(/.{1,16}/gs) ?? [ANSWER],
      tokenDelayMs: 20,
    });
    const env: Record<string, string> = {
      JWT_SECRET: SECRET,
      ...redisEnv,
      DATABASE_URL: postgres.url,
      QUEUE_PREFIX: 'chaos',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      PORT: '0',
      JOB_LOCK_MS: String(LOCK_MS),
      JOB_STALLED_INTERVAL_MS: '1000',
      JOB_CONCURRENCY: '3',
      JOB_BACKOFF_MS: '200',
      SHUTDOWN_GRACE_MS: '1000',
      RECONCILE_INTERVAL_MS: '2000',
      RECONCILE_AFTER_MS: '5000',
      PROGRESS_INTERVAL_MS: '100',
      LLM_PROVIDERS: 'openai-compatible',
      OPENAI_COMPATIBLE_BASE_URL: llm.baseURL,
      OPENAI_COMPATIBLE_MODEL: 'chaos-model',
      TEST_SANDBOX: 'none',
    };
    const spawnRole = async (role: 'api' | 'worker', label: string) => {
      const { proc, ready } = await startConveyor(label, { ...env, APP_ROLE: role }, 120_000);
      procs[role].push(proc);
      if (role === 'api') apiUrls.set(proc, `http://127.0.0.1:${ready.port}`);
      return proc;
    };
    // The first api migrates the empty database before the others start.
    await spawnRole('api', 'api-1');
    await Promise.all([
      spawnRole('api', 'api-2'),
      spawnRole('worker', 'worker-1'),
      spawnRole('worker', 'worker-2'),
    ]);
    let spawned = 2;
    let over = 0;
    const replace = async (role: 'api' | 'worker', dead: ConveyorProcess) => {
      over ||= Date.now();
      procs[role] = procs[role].filter((p) => p !== dead);
      apiUrls.delete(dead);
      if (!options.replaceKilled) return;
      spawned += 1;
      await spawnRole(role, `${role}-${spawned}`);
    };
    const liveApis = () =>
      procs.api.filter((p) => p.running && apiUrls.has(p)).map((p) => apiUrls.get(p)!);
    log(`2 api and 2 worker processes ready`);

    const jwt = new JwtService({ jwtSecret: SECRET });
    const users = Array.from({ length: options.users }, (_, i) => ({
      id: `chaos-user-${i + 1}`,
      token: jwt.sign({ id: `chaos-user-${i + 1}`, roles: [] }, 24 * 3600),
      projects: [] as string[],
    }));
    const http = async (path: string, token: string, body?: unknown) => {
      const urls = liveApis();
      if (urls.length === 0) throw new Error('no api up');
      const res = await fetch(`${pick(urls)}/api/v1${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(body !== undefined && { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(10_000),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    for (const user of users) {
      for (let p = 0; p < options.projectsPerUser; p += 1) {
        const res = await http('/projects', user.token, { name: `p${p}` });
        if (res.status !== 201)
          throw new Error(`project: ${res.status} ${JSON.stringify(res.body)}`);
        const id = String(res.body.id);
        writeFiles(join(dataDir, 'workspaces', id), {
          'package.json': '{ "name": "fixture", "private": true }\n',
          'test/sum.test.js':
            "const { test } = require('node:test');\nconst assert = require('node:assert');\n" +
            "test('adds', () => assert.strictEqual(1 + 1, 2));\n",
          'src/config.ts':
            'export function parseConfig(text: string) {\n  return text.trim();\n}\n',
        });
        user.projects.push(id);
      }
      const client = new ChaosClient(user.id, user.token, liveApis, () => {
        doneTimes.push(Date.now());
      });
      clients.push(client);
      client.connect();
    }

    const accepted = new Set<string>();
    let rejected = 0;
    const paramsFor = (kind: (typeof KINDS)[number]): object => {
      switch (kind) {
        case 'echo':
          return { text: randomUUID(), steps: 5 + Math.floor(Math.random() * 20), stepMs: 100 };
        case 'test-execution':
          return { testCommand: 'node --test' };
        case 'code-generation':
          return { prompt: 'Add a sum function.', apply: false };
        case 'indexing':
          return {};
      }
    };
    const submitter = async () => {
      while (!stopLoad) {
        const user = pick(users);
        const kind = pick(KINDS);
        try {
          const res = await http(`/jobs/${kind}`, user.token, {
            projectId: pick(user.projects),
            params: paramsFor(kind),
          });
          if (res.status === 202) accepted.add(String(res.body.id));
          else rejected += 1;
        } catch {
          rejected += 1;
        }
        await sleep(options.submitEveryMs);
      }
    };
    for (let i = 0; i < options.submitters; i += 1) loops.push(submitter());
    log(`load running: ${users.length} users, ${users.length * options.projectsPerUser} projects`);
    await sleep(options.calmMs);

    const readyCodes = async (): Promise<number[]> =>
      Promise.all(
        liveApis().map((url) =>
          fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(5000) })
            .then((res) => res.status)
            .catch(() => 0),
        ),
      );
    const sampleWhile = (codes: number[]) => {
      let sampling = true;
      const loop = (async () => {
        while (sampling) {
          codes.push(...(await readyCodes()));
          await sleep(250);
        }
      })();
      return async () => {
        sampling = false;
        await loop;
      };
    };
    const readyAgain = async (): Promise<number | null> => {
      const from = Date.now();
      while (Date.now() - from < 60_000) {
        const codes = await readyCodes();
        if (codes.length > 0 && codes.every((code) => code === 200)) return Date.now() - from;
        await sleep(100);
      }
      return null;
    };
    const outage = async (stop: () => Promise<void>, start: () => Promise<void>) => {
      const codes: number[] = [];
      await stop();
      const done = sampleWhile(codes);
      await sleep(2000);
      await done();
      await start();
      over = Date.now();
      return { codes, back: await readyAgain() };
    };
    const pause = async (worker: ConveyorProcess) => {
      worker.signal('SIGSTOP');
      await sleep(LOCK_MS * 2 + 1000);
      worker.signal('SIGCONT');
      over = Math.max(over, Date.now());
    };
    const adminToken = jwt.sign({ id: 'chaos-admin', roles: ['admin'] }, 24 * 3600);
    /**
     * What an append-only file losing its last second does: entries gone, rows still there.
     * A few echo jobs are submitted to the paused echo queue so that some entries surely wait;
     * theirs are removed (with the hash, as a lost write would leave none). Resolves with the
     * time until those jobs have finished.
     */
    const lostEntries = async (): Promise<number | null> => {
      const from = Date.now();
      const user = users[0];
      await http('/admin/queues/echo/pause', adminToken, {});
      const victims: string[] = [];
      try {
        for (let i = 0; i < 4; i += 1) {
          const res = await http('/jobs/echo', user.token, {
            projectId: user.projects[0],
            params: { text: `orphan-${i}`, steps: 2, stepMs: 50 },
          });
          if (res.status === 202) {
            accepted.add(String(res.body.id));
            victims.push(String(res.body.id));
          }
        }
        // Every key of the echo queue carries the {echo} tag: one slot, one master.
        const client = cluster ? new Cluster(clusterAddresses(cluster)) : new Redis(redis.url);
        try {
          for (const id of victims) {
            await client.del(`chaos:{echo}:echo:${id}`);
            await client.lrem('chaos:{echo}:echo:wait', 0, id);
            await client.lrem('chaos:{echo}:echo:paused', 0, id);
            await client.zrem('chaos:{echo}:echo:prioritized', id);
          }
        } finally {
          client.disconnect();
        }
      } finally {
        await http('/admin/queues/echo/resume', adminToken, {});
      }
      log(`  removed the queue entries of ${victims.length} jobs`);
      over = Date.now();
      while (Date.now() - from < 60_000) {
        const jobs = await Promise.all(
          victims.map((id) => http(`/jobs/${id}`, user.token).catch(() => null)),
        );
        if (jobs.every((job) => job && TERMINAL.includes(String(job.body.status)))) {
          return Date.now() - from;
        }
        await sleep(200);
      }
      return null;
    };

    /**
     * SIGKILL of the master that serves the echo queue's slot while jobs flow; its replica takes
     * over. Resolves with the time from the kill until the cluster is whole again.
     */
    const masterDown = async (): Promise<number> => {
      if (!cluster) throw new Error('redis-master-sigkill needs the cluster');
      const slot = clusterSlotOf('chaos:{echo}:echo:wait');
      const port = await cluster.masterOfSlot(slot);
      await cluster.killNode(port, 'SIGKILL');
      log(`  killed master ${port} (slot ${slot} of the echo queue)`);
      const { newMasterPort, recoveredInMs } = await cluster.waitForFailover(port, 60_000);
      log(`  replica ${newMasterPort} serves the slot ${recoveredInMs} ms after the kill`);
      over = Date.now();
      return recoveredInMs;
    };

    const figures: FaultFigure[] = [];
    for (const fault of options.faults) {
      const at = Date.now();
      over = 0;
      log(`fault: ${fault}`);
      let readyWhileDown: number[] = [];
      let readyBackMs: number | null = null;
      let orphansDoneMs: number | null | undefined;
      let clusterRecoveredInMs: number | null = null;
      const [w1, w2] = procs.worker;
      switch (fault) {
        case 'worker-sigkill':
          w1.signal('SIGKILL');
          await w1.exited;
          await replace('worker', w1);
          break;
        case 'worker-sigterm':
          w1.signal('SIGTERM');
          await w1.waitForExit(30_000);
          await replace('worker', w1);
          break;
        case 'api-sigkill': {
          const api = procs.api[0];
          api.signal('SIGKILL');
          await api.exited;
          await replace('api', api);
          break;
        }
        case 'redis-restart':
        case 'redis-sigkill': {
          const signal = fault === 'redis-restart' ? 'SIGTERM' : 'SIGKILL';
          const seen = await outage(
            () => redis.stop(signal),
            () => redis.start(),
          );
          readyWhileDown = seen.codes;
          readyBackMs = seen.back;
          break;
        }
        case 'redis-entries-lost':
          orphansDoneMs = await lostEntries();
          break;
        case 'postgres-restart': {
          const seen = await outage(
            () => postgres.stop(),
            () => postgres.start(),
          );
          readyWhileDown = seen.codes;
          readyBackMs = seen.back;
          break;
        }
        case 'worker-partition':
          await pause(w2);
          break;
        case 'worker-sigkill+api-sigkill': {
          const api = procs.api[1];
          w2.signal('SIGKILL');
          api.signal('SIGKILL');
          await Promise.all([w2.exited, api.exited]);
          await Promise.all([replace('worker', w2), replace('api', api)]);
          break;
        }
        case 'worker-partition+redis-restart': {
          const [, seen] = await Promise.all([
            pause(w1),
            outage(
              () => redis.stop('SIGTERM'),
              () => redis.start(),
            ),
          ]);
          readyWhileDown = seen.codes;
          readyBackMs = seen.back;
          break;
        }
        case 'redis-master-sigkill':
          clusterRecoveredInMs = await masterDown();
          readyBackMs = await readyAgain();
          break;
      }
      // Processes that died by themselves are reported and replaced.
      for (const role of ['api', 'worker'] as const) {
        for (const proc of procs[role].filter((p) => !p.running)) {
          log(`  ${proc.label} exited unexpectedly:\n${proc.describe()}`);
          await replace(role, proc);
        }
      }
      // Until the first job finishing once the fault is over: the process killed (not yet
      // replaced), the dependency back, the paused worker woken.
      const from = over || Date.now();
      let recoveryMs: number | null = null;
      while (recoveryMs === null && Date.now() - from < 60_000) {
        const first = doneTimes.find((t) => t >= from);
        if (first !== undefined) recoveryMs = first - at;
        else await sleep(50);
      }
      // For lost entries: until the jobs that lost them have finished.
      if (orphansDoneMs !== undefined) recoveryMs = orphansDoneMs;
      figures.push({
        fault,
        recoveryMs,
        readyWhileDown: [...new Set(readyWhileDown)],
        readyBackMs,
        clusterRecoveredInMs,
      });
      log(`  recovered in ${recoveryMs ?? '—'} ms`);
      await sleep(1500);
    }
    await sleep(options.calmMs);
    stopLoad = true;
    await Promise.all(loops);
    log(`load stopped: ${accepted.size} accepted; draining`);

    // Opened now: a session held across the PostgreSQL restart would be cut by it.
    db = new Client({ connectionString: postgres.url });
    db.on('error', () => undefined);
    await db.connect();
    const ids = [...accepted];
    const unfinished = async () => {
      const { rows } = await db!.query<{ n: string }>(
        `SELECT count(*) AS n FROM "Job" WHERE id = ANY($1::uuid[]) AND status NOT IN ('done','error','cancelled')`,
        [ids],
      );
      return Number(rows[0].n);
    };
    const drainFrom = Date.now();
    while ((await unfinished()) > 0 && Date.now() - drainFrom < options.drainMs) await sleep(500);

    const eventsOf = async (user: string) =>
      (
        await db!.query<{ id: string }>(
          `SELECT id::text AS id FROM "JobEvent" WHERE "userId" = $1 ORDER BY id`,
          [user],
        )
      ).rows.map((row) => row.id);
    // Each client is compared with its user's events as they are now (later ones, of jobs still
    // running when the drain ran out, are not counted).
    const expectedOf = new Map<ChaosClient, string[]>();
    const caughtUpFrom = Date.now();
    for (const client of clients) {
      const expected = await eventsOf(client.user);
      expectedOf.set(client, expected);
      const last = expected[expected.length - 1] ?? '0';
      while (BigInt(client.lastEventId) < BigInt(last) && Date.now() - caughtUpFrom < 30_000) {
        await sleep(100);
      }
    }

    const { rows: byStatus } = await db.query<{ status: string; n: string }>(
      `SELECT status, count(*) AS n FROM "Job" WHERE id = ANY($1::uuid[]) GROUP BY status`,
      [ids],
    );
    const finished: Record<string, number> = {};
    for (const row of byStatus) finished[row.status] = Number(row.n);
    const { rows: errorRows } = await db.query<{ error: string; n: string }>(
      `SELECT coalesce(error, '') AS error, count(*) AS n FROM "Job"
        WHERE id = ANY($1::uuid[]) AND status = 'error' GROUP BY 1`,
      [ids],
    );
    const errors: Record<string, number> = {};
    for (const row of errorRows) errors[row.error.slice(0, 120)] = Number(row.n);
    const lost = Object.entries(finished)
      .filter(([status]) => !TERMINAL.includes(status))
      .reduce((sum, [, n]) => sum + n, 0);
    const missingRows = ids.length - Object.values(finished).reduce((a, b) => a + b, 0);
    const { rows: twice } = await db.query(
      `SELECT "jobId" FROM "JobEvent" WHERE status = 'done' GROUP BY "jobId" HAVING count(*) > 1`,
    );
    const { rows: overMax } = await db.query(`SELECT id FROM "Job" WHERE attempts > "maxAttempts"`);
    const { rows: recoveredRows } = await db.query<{ n: string }>(
      `SELECT count(DISTINCT "jobId") AS n FROM "JobEvent"
        WHERE message LIKE '%was lost with its worker%' OR message LIKE 'queue entry lost%'`,
    );
    let missingEvents = 0;
    let duplicatedEvents = 0;
    for (const client of clients) {
      const expected = expectedOf.get(client) ?? [];
      const seen = new Set(client.received);
      duplicatedEvents += client.received.length - seen.size;
      missingEvents += expected.filter((id) => !seen.has(id)).length;
    }
    const report: ChaosReport = {
      accepted: ids.length,
      rejected,
      finished,
      errors,
      lost: lost + missingRows,
      doneTwice: twice.length,
      attemptsOverMax: overMax.length,
      recovered: Number(recoveredRows[0].n),
      missingEvents,
      duplicatedEvents,
      clients: clients.length,
      reconnects: clients.reduce((sum, c) => sum + c.reconnects, 0),
      faults: figures,
      ok: false,
    };
    report.ok =
      report.lost === 0 &&
      report.doneTwice === 0 &&
      report.attemptsOverMax === 0 &&
      report.missingEvents === 0 &&
      report.duplicatedEvents === 0 &&
      figures.every((f) => f.recoveryMs !== null) &&
      figures.every((f) => f.readyWhileDown.every((code) => code !== 200)) &&
      figures.every((f) => f.readyWhileDown.length === 0 || f.readyBackMs !== null);
    return report;
  } finally {
    stopLoad = true;
    await Promise.all(loops);
    for (const client of clients) client.close();
    await db?.end().catch(() => undefined);
    await Promise.all([...procs.api, ...procs.worker].map((p) => p.kill()));
    await llm?.close();
    await redis.stop('SIGKILL');
    await cluster?.stop();
    await postgres.destroy().catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  }
}

function clusterAddresses(cluster: RedisCluster): { host: string; port: number }[] {
  return cluster.nodes.map((node) => ({ host: '127.0.0.1', port: node.port }));
}

/** The table and the one JSON line. */
export function formatReport(report: ChaosReport): string {
  const rows: [string, string][] = [
    ['accepted jobs', String(report.accepted)],
    ['rejected submits (503/429/down)', String(report.rejected)],
    ...Object.entries(report.finished).map(
      ([status, n]) => [`finished: ${status}`, String(n)] as [string, string],
    ),
    ...Object.entries(report.errors).map(
      ([error, n]) => [`  error: ${error}`, String(n)] as [string, string],
    ),
    ['lost (accepted, never finished)', String(report.lost)],
    ['done recorded twice', String(report.doneTwice)],
    ['attempts > maxAttempts', String(report.attemptsOverMax)],
    ['jobs visibly recovered', String(report.recovered)],
    [`missing events (${report.clients} clients)`, String(report.missingEvents)],
    ['duplicated events', String(report.duplicatedEvents)],
    ['client reconnects', String(report.reconnects)],
    ...report.faults.map(
      (f) =>
        [
          `fault ${f.fault}`,
          `recovery ${f.recoveryMs ?? '—'} ms` +
            (f.readyWhileDown.length > 0
              ? `; ready while down: ${f.readyWhileDown.join('/')}; 200 again after ${f.readyBackMs ?? '—'} ms`
              : '') +
            (f.clusterRecoveredInMs !== null
              ? `; cluster whole again ${f.clusterRecoveredInMs} ms after the kill; ready 200 ${f.readyBackMs ?? '—'} ms after that`
              : ''),
        ] as [string, string],
    ),
    ['verdict', report.ok ? 'OK' : 'FAILED'],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const table = rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
  return `${table}\n${JSON.stringify({ chaos: report })}`;
}
