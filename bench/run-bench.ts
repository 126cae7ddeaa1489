import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { JwtService } from '../src/auth/jwt.service';
import { RedisCluster } from '../test/support/redis-cluster';
import { runBare, type BareResult, type BareStep } from './bare';
import { BENCH_KIND_NAMES } from './bench-kind-names';
import { ConveyorStack } from './conveyor-stack';
import { LoadGenerator, now, sleep, type Integrity, type StepResult } from './load-generator';
import { summariseProfile, type ProfileSummary } from './profile-summary';
import { cpuBetween, memoryOf, pidsByComm, round, snapshot } from './proc-stats';

const ROOT = resolve(__dirname, '../..');
const ENTRY = resolve(__dirname, 'bench-main.js');
const PROFILE_HOOK = resolve(__dirname, 'profile-hook.js');
/** Beside the repository, or two levels up for a git worktree under /work/wt/<name>. */
const BARE_SCRIPT =
  process.env.BENCH_BARE_SCRIPT ??
  [
    resolve(ROOT, '../shared/bench/bare-pipeline/run.sh'),
    resolve(ROOT, '../../shared/bench/bare-pipeline/run.sh'),
  ].find((path) => existsSync(path)) ??
  resolve(ROOT, '../shared/bench/bare-pipeline/run.sh');
const RESULTS_DIR = resolve(ROOT, 'bench/results');
/** The bare pipeline's unreported warm-up step: 500 jobs/s for 5 s (--warmup sets the rate). */
const WARMUP_SECONDS = 5;
const WARMUP_RATE = 500;
const FINAL_DRAIN_MS = 15_000;
/** A rate counts as sustained when all of it completes at ≥ 90 % of the offered rate. */
const SUSTAINED = 0.9;
/** The issue's target at the highest rate the bare pipeline sustains. */
const TARGET = { throughput: 0.8, p99: 2 };
const CLUSTER_MASTERS = 3;

const USAGE = `npm run bench -- [--rates 500,1000,1500] [--seconds 10] [--clients 1000]
                     [--concurrency 50] [--warmup 500] [--apis 1] [--workers 1] [--no-bare] [--profile]
                     [--redis-cluster] [--kinds 1|2|3]
--warmup: the rate of the unreported 5 s warm-up step (the bare pipeline's is 500; 0 skips it)
--apis, --workers: how many Conveyor api and worker processes (sockets and submits are spread
  over the apis; each worker process runs --concurrency jobs at a time)
--redis-cluster: after the run on the single Redis, the same run on a fresh local Redis Cluster
  of ${CLUSTER_MASTERS} masters (no replicas), side by side, with each node's CPU per job
--kinds: how many bench kinds the submits go round (their queues sit on different masters of a
  cluster; the worker concurrency is shared); 1 by default, ${CLUSTER_MASTERS} with --redis-cluster
BENCH_NODE_ARGS (environment): node flags for the Conveyor processes, e.g. "--max-semi-space-size=64"`;

interface Options {
  rates: number[];
  seconds: number;
  clients: number;
  concurrency: number;
  warmup: number;
  apis: number;
  workers: number;
  bare: boolean;
  profile: boolean;
  redisCluster: boolean;
  kinds: number;
}

function positiveInt(name: string, raw: string, max: number): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new Error(`--${name} must be an integer from 1 to ${max} (got "${raw}")\n${USAGE}`);
  }
  return n;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      rates: { type: 'string', default: '500,1000,1500' },
      seconds: { type: 'string', default: '10' },
      clients: { type: 'string', default: '1000' },
      concurrency: { type: 'string', default: '50' },
      warmup: { type: 'string', default: String(WARMUP_RATE) },
      apis: { type: 'string', default: '1' },
      workers: { type: 'string', default: '1' },
      'no-bare': { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      'redis-cluster': { type: 'boolean', default: false },
      kinds: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  return {
    rates: values.rates.split(',').map((rate) => positiveInt('rates', rate.trim(), 100_000)),
    seconds: positiveInt('seconds', values.seconds, 3600),
    clients: positiveInt('clients', values.clients, 20_000),
    concurrency: positiveInt('concurrency', values.concurrency, 1000),
    warmup: values.warmup === '0' ? 0 : positiveInt('warmup', values.warmup, 100_000),
    apis: positiveInt('apis', values.apis, 8),
    workers: positiveInt('workers', values.workers, 8),
    bare: !values['no-bare'],
    profile: values.profile,
    redisCluster: values['redis-cluster'],
    kinds:
      values.kinds === undefined
        ? values['redis-cluster']
          ? CLUSTER_MASTERS
          : 1
        : positiveInt('kinds', values.kinds, BENCH_KIND_NAMES.length),
  };
}

const print = (line = ''): void => void process.stdout.write(`${line}\n`);
const cell = (value: string | number | null | undefined, width: number): string =>
  String(value ?? '-').padEnd(width);
const fixed = (value: number | null | undefined, digits = 1): string =>
  value === null || value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(digits);

interface ConveyorRun {
  rates: (StepResult & { cpu: Record<string, number> })[];
  integrity: Integrity;
  httpErrors: Record<string, number>;
  rss: Record<'api' | 'worker', { rssMiB: number; peakMiB: number } | null>;
  connectSeconds: number;
  logs: Record<'api' | 'worker', { warnings: number; samples: string[] }>;
  profiles?: Record<string, ProfileSummary>;
  /** The cluster's nodes, when the run was on one; their CPU is in cpu as `redis:<port>`. */
  redisNodes?: { port: number; pid: number }[];
}

/** Where a run's Redis is: the shared single server, or a private cluster. */
interface RedisUnderTest {
  label: string;
  cluster?: RedisCluster;
}

function printConveyorTable(run: ConveyorRun, options: Options, redis: string): void {
  print();
  print(
    `Conveyor on ${redis} (${options.apis} api + ${options.workers} worker process(es), NODE_ENV=production): ` +
      `clients=${options.clients} workerConc=${options.concurrency} step=${options.seconds}s` +
      (options.kinds > 1 ? ` kinds=${options.kinds}` : ''),
  );
  print(
    'offered/s  submitted/s  completed/s  e2e p50    e2e p99    http p50  errors  backlog@end  done/sent      lost',
  );
  for (const r of run.rates) {
    print(
      `${cell(r.offered, 10)} ${cell(r.submittedPerSec, 12)} ${cell(r.completedPerSec, 12)} ` +
        `${cell(fixed(r.p50), 10)} ${cell(fixed(r.p99), 10)} ${cell(fixed(r.httpP50), 9)} ` +
        `${cell(r.errors, 7)} ${cell(r.backlogAtEnd, 12)} ${cell(`${r.done}/${r.sent}`, 14)} ${r.lost}`,
    );
  }
  print('CPU % of one core during the send window (200 = both cores):');
  for (const r of run.rates) {
    print(
      `${cell(r.offered, 6)} ` +
        Object.entries(r.cpu)
          .map(([name, pct]) => `${name} ${pct}`)
          .join('  '),
    );
  }
  const i = run.integrity;
  print(
    `Events: ${i.complete}/${i.jobs} accepted jobs received created → processing → done, once, in ` +
      `order, at their owner's socket; lost ${i.lost} (missing ${i.missing}, duplicated ` +
      `${i.duplicated}, out of order ${i.outOfOrder}, wrong socket ${i.wrongSocket}, unexpected ` +
      `${i.unexpected}); eventId regressions ${i.eventIdRegressions}; orphan events ` +
      `${i.orphanEvents}; resyncs ${i.resyncs}; disconnects ${i.disconnects}`,
  );
  for (const example of i.examples) print(`  lost: ${example}`);
  const errors = Object.entries(run.httpErrors);
  if (errors.length > 0) {
    print(`HTTP errors: ${errors.map(([kind, n]) => `${n} × ${kind}`).join('; ')}`);
  }
  for (const role of ['api', 'worker'] as const) {
    const log = run.logs[role];
    if (log.warnings > 0) {
      print(`${role} logged ${log.warnings} warning/error line(s); the most frequent:`);
      for (const sample of log.samples) print(`  ${sample}`);
    }
  }
}

async function runConveyor(
  options: Options,
  profileDir: string | undefined,
  redis: RedisUnderTest,
): Promise<ConveyorRun> {
  const nodeArgs = [
    ...(process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
    ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, '-r', PROFILE_HOOK] : []),
  ];
  const stack = new ConveyorStack({
    root: ROOT,
    entry: ENTRY,
    concurrency: options.concurrency,
    kinds: options.kinds,
    nodeArgs,
    apis: options.apis,
    workers: options.workers,
    ...(redis.cluster && { redisClusterNodes: redis.cluster.nodeList }),
  });
  let load: LoadGenerator | undefined;
  const cleanups: string[] = [];
  try {
    const started = now();
    await stack.start();
    print(
      `Conveyor on ${redis.label} started in ${((now() - started) / 1000).toFixed(1)} s: api pid(s) ` +
        `${stack.apis.map((c) => c.pid).join(',')} port(s) ${stack.ports.join(',')}, worker ` +
        `pid(s) ${stack.workers.map((c) => c.pid).join(',')}, database ${stack.database}, ` +
        `prefix ${stack.prefix}`,
    );
    const jwt = new JwtService({ jwtSecret: stack.jwtSecret });
    const tokens = Array.from({ length: options.clients }, (_, i) =>
      jwt.sign({ id: `u${i}`, roles: [] }, 6 * 3600),
    );
    load = new LoadGenerator({
      baseUrls: stack.ports.map((port) => `http://127.0.0.1:${port}`),
      tokens,
      kinds: BENCH_KIND_NAMES.slice(0, options.kinds),
    });
    const connecting = now();
    await load.connect();
    const connectSeconds = round((now() - connecting) / 1000, 1);
    print(`${options.clients} Socket.IO clients connected in ${connectSeconds} s`);

    const apiPid = stack.api?.pid ?? 0;
    const workerPid = stack.worker?.pid ?? 0;
    const apiPids = stack.apis.map((child) => child.pid);
    const workerPids = stack.workers.map((child) => child.pid);
    const clusterNodes = redis.cluster?.nodes ?? [];
    const groups: Record<string, () => number[]> = {
      api: () => apiPids,
      worker: () => workerPids,
      loadgen: () => [process.pid],
      redis: redis.cluster
        ? () => clusterNodes.map((node) => node.pid)
        : () => pidsByComm(/^redis-server$/),
      postgres: () => pidsByComm(/^postgres$/),
      ...Object.fromEntries(clusterNodes.map((node) => [`redis:${node.port}`, () => [node.pid]])),
    };
    const steps = [
      ...(options.warmup > 0
        ? [{ rate: options.warmup, seconds: WARMUP_SECONDS, warmup: true }]
        : []),
      ...options.rates.map((rate) => ({ rate, seconds: options.seconds, warmup: false })),
    ];
    const measured: {
      index: number;
      sendSeconds: number;
      backlog: number;
      cpu: Record<string, number>;
    }[] = [];
    for (const [index, step] of steps.entries()) {
      const before = snapshot(groups);
      let cpu: Record<string, number> = {};
      const { sendSeconds, backlog } = await load.runStep(step.rate, step.seconds, () => {
        cpu = cpuBetween(before, snapshot(groups));
      });
      const progress = load.stepResult(index, sendSeconds, backlog);
      print(
        `… ${step.warmup ? 'warm-up ' : ''}${step.rate}/s for ${step.seconds} s: ` +
          `${progress.done}/${progress.sent} done, ${progress.errors} errors, p99 ${fixed(progress.p99)} ms`,
      );
      if (!step.warmup) measured.push({ index, sendSeconds, backlog, cpu });
      await sleep(1000);
    }
    await load.drain(FINAL_DRAIN_MS);
    const rss = {
      api: memoryOf(apiPid) ?? null,
      worker: memoryOf(workerPid) ?? null,
    };
    const generator = load;
    const rates = measured.map((m) => ({
      ...generator.stepResult(m.index, m.sendSeconds, m.backlog),
      cpu: m.cpu,
    }));
    const run: ConveyorRun = {
      rates,
      integrity: load.integrity(),
      httpErrors: load.errorsByKind,
      rss,
      connectSeconds,
      ...(redis.cluster && { redisNodes: clusterNodes }),
      logs: {
        api: { warnings: stack.logs.api.count, samples: stack.logs.api.samples },
        worker: { warnings: stack.logs.worker.count, samples: stack.logs.worker.samples },
      },
    };
    load.close();
    load = undefined;
    const stopped = await stack.stop();
    if (!stopped.api || !stopped.worker) {
      print(`warning: graceful stop timed out (api ${stopped.api}, worker ${stopped.worker})`);
    }
    if (profileDir) run.profiles = readProfiles(profileDir, { api: apiPid, worker: workerPid });
    return run;
  } finally {
    load?.close();
    cleanups.push(...(await stack.cleanup()));
    for (const problem of cleanups) print(`cleanup problem: ${problem}`);
  }
}

function readProfiles(dir: string, pids: Record<string, number>): Record<string, ProfileSummary> {
  const out: Record<string, ProfileSummary> = {};
  for (const [role, pid] of Object.entries(pids)) {
    const file = readdirSync(dir).find((name) => name.includes(`.${pid}.`));
    if (file) out[role] = summariseProfile(join(dir, file));
  }
  return out;
}

function printProfiles(profiles: Record<string, ProfileSummary>, dir: string): void {
  print();
  print(`CPU profiles (self time, whole process lifetime incl. start-up) in ${dir}:`);
  for (const [role, summary] of Object.entries(profiles)) {
    print(`${role}: ${(summary.busyMs / 1000).toFixed(1)} s busy`);
    for (const a of summary.areas) print(`  ${cell(`${a.pct}%`, 7)} ${a.area}`);
    print('  top functions:');
    for (const f of summary.functions.slice(0, 8)) print(`  ${cell(`${f.pct}%`, 7)} ${f.fn}`);
  }
}

const CPU_PROCESSES = ['api', 'worker', 'postgres', 'redis'] as const;

interface CpuPerJob {
  offered: number;
  conveyor: Record<string, number | null>;
  bare: Record<string, number | null> | null;
}

/** CPU milliseconds per completed job: the send window's CPU share over the completion rate. */
function msPerJob(
  cpu: Record<string, number> | undefined,
  completedPerSec: number | undefined,
): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  let total = 0;
  for (const name of CPU_PROCESSES) {
    const pct = cpu?.[name];
    const ms =
      pct === undefined || !completedPerSec ? null : round((pct * 10) / completedPerSec, 2);
    out[name] = ms;
    total += ms ?? 0;
  }
  out.total = round(total, 2);
  return out;
}

function cpuPerJob(conveyor: ConveyorRun, bare: BareResult | undefined): CpuPerJob[] {
  return conveyor.rates.map((c) => {
    const b = bare?.rates.find((step) => step.offered === c.offered);
    return {
      offered: c.offered,
      conveyor: msPerJob(c.cpu, c.completedPerSec),
      bare: b ? msPerJob(b.cpu, b.completedPerSec) : null,
    };
  });
}

function printCpuPerJob(rows: CpuPerJob[], what: string): void {
  print();
  print(`CPU ms per completed job (CPU of the send window ÷ completion rate), ${what} | bare:`);
  print(
    `offered/s  ${[...CPU_PROCESSES, 'total'].map((name) => cell(name, 16)).join(' ')}`.trimEnd(),
  );
  for (const row of rows) {
    const pair = (name: string) =>
      `${fixed(row.conveyor[name], 2)} | ${row.bare ? fixed(row.bare[name], 2) : '-'}`;
    print(
      `${cell(row.offered, 10)} ${[...CPU_PROCESSES, 'total'].map((name) => cell(pair(name), 16)).join(' ')}`.trimEnd(),
    );
  }
}

/** What broke a promise in one Conveyor run (prefixed with the run's name). */
function runFailures(run: ConveyorRun, prefix: string): string[] {
  const out: string[] = [];
  const i = run.integrity;
  if (i.lost > 0) out.push(`${i.lost} job(s) lost or out of order`);
  if (i.orphanEvents > 0) out.push(`${i.orphanEvents} event(s) for jobs never accepted`);
  if (i.eventIdRegressions > 0) out.push(`${i.eventIdRegressions} eventId regression(s)`);
  if (i.disconnects > 0) out.push(`${i.disconnects} socket disconnect(s)`);
  const errors = run.rates.reduce((sum, r) => sum + r.errors, 0);
  if (errors > 0) out.push(`${errors} HTTP error(s)`);
  return out.map((failure) => `${prefix}${failure}`);
}

interface ClusterRow {
  offered: number;
  completed: { single: number | null; cluster: number };
  p99: { single: number | null; cluster: number | null };
  /** cluster ÷ single */
  throughput: number | null;
  p99Ratio: number | null;
  /** each ÷ bare, when the bare pipeline ran */
  vsBare: { single: Ratio | null; cluster: Ratio | null };
  /** CPU ms per completed job of each cluster node, by port; the single server's. */
  nodeMsPerJob: Record<string, number | null>;
  singleRedisMsPerJob: number | null;
  /** Busiest node's CPU ÷ idlest node's: 1 is an even spread. */
  maxMinRatio: number | null;
}

function clusterComparison(
  cluster: ConveyorRun,
  single: ConveyorRun | undefined,
  bare: BareResult | undefined,
): ClusterRow[] {
  const toBare = (run: ConveyorRun | undefined) =>
    run && bare ? ratios(run.rates, bare.rates) : [];
  const singleVsBare = toBare(single);
  const clusterVsBare = toBare(cluster);
  const ratio = (x: number | null | undefined, y: number | null | undefined) =>
    x === null || x === undefined || !y ? null : round(x / y, 2);
  return cluster.rates.map((c) => {
    const s = single?.rates.find((step) => step.offered === c.offered);
    const perJob = (pct: number | undefined) =>
      pct === undefined || !c.completedPerSec ? null : round((pct * 10) / c.completedPerSec, 3);
    const nodeMsPerJob = Object.fromEntries(
      (cluster.redisNodes ?? []).map((node) => [
        String(node.port),
        perJob(c.cpu[`redis:${node.port}`]),
      ]),
    );
    const values = Object.values(nodeMsPerJob).filter((v): v is number => v !== null);
    const max = values.length > 0 ? Math.max(...values) : null;
    const min = values.length > 0 ? Math.min(...values) : null;
    return {
      offered: c.offered,
      completed: { single: s?.completedPerSec ?? null, cluster: c.completedPerSec },
      p99: { single: s?.p99 ?? null, cluster: c.p99 },
      throughput: ratio(c.completedPerSec, s?.completedPerSec),
      p99Ratio: ratio(c.p99, s?.p99),
      vsBare: {
        single: singleVsBare.find((r) => r.offered === c.offered) ?? null,
        cluster: clusterVsBare.find((r) => r.offered === c.offered) ?? null,
      },
      nodeMsPerJob,
      singleRedisMsPerJob:
        s && s.completedPerSec ? round(((s.cpu.redis ?? 0) * 10) / s.completedPerSec, 3) : null,
      maxMinRatio: max !== null && min !== null ? ratio(max, min) : null,
    };
  });
}

function printClusterComparison(rows: ClusterRow[], nodes: { port: number }[]): void {
  print();
  print(`Redis Cluster (${nodes.length} masters) / one Redis, same run:`);
  print(
    'offered/s  done/s one  done/s cluster  throughput×  p99 one    p99 cluster  p99×   one/bare thr× p99×  cluster/bare thr× p99×',
  );
  for (const r of rows) {
    const vs = (x: Ratio | null) => `${fixed(x?.throughput, 2)} ${fixed(x?.p99, 2)}`;
    print(
      `${cell(r.offered, 10)} ${cell(r.completed.single, 11)} ${cell(r.completed.cluster, 15)} ` +
        `${cell(fixed(r.throughput, 2), 12)} ${cell(fixed(r.p99.single), 10)} ` +
        `${cell(fixed(r.p99.cluster), 12)} ${cell(fixed(r.p99Ratio, 2), 6)} ` +
        `${cell(vs(r.vsBare.single), 19)} ${vs(r.vsBare.cluster)}`,
    );
  }
  print(
    'Redis CPU ms per completed job, each node (one Redis: every redis-server on the machine):',
  );
  print(
    `offered/s  ${cell('one Redis', 10)} ${nodes.map((n) => cell(`node ${n.port}`, 11)).join(' ')} ` +
      `${cell('cluster sum', 12)} max/min node`,
  );
  for (const r of rows) {
    const values = nodes.map((n) => r.nodeMsPerJob[String(n.port)] ?? null);
    const sum = values.reduce<number>((total, v) => total + (v ?? 0), 0);
    print(
      `${cell(r.offered, 10)} ${cell(fixed(r.singleRedisMsPerJob, 3), 10)} ` +
        `${values.map((v) => cell(fixed(v, 3), 11)).join(' ')} ${cell(fixed(sum, 3), 12)} ` +
        `${fixed(r.maxMinRatio, 2)}`,
    );
  }
  const spread = rows.map((r) => r.maxMinRatio).filter((v): v is number => v !== null);
  if (spread.length > 0) {
    const worst = Math.max(...spread);
    print(
      `Load spread over the masters: the busiest node used ${fixed(worst, 2)}× the CPU of the ` +
        `idlest at worst (${worst <= 1.5 ? 'fairly even' : worst <= 3 ? 'uneven' : 'concentrated on few nodes'})`,
    );
  }
}

interface Ratio {
  offered: number;
  throughput: number | null;
  p99: number | null;
  p50: number | null;
}

function ratios(conveyor: readonly StepResult[], bare: readonly BareStep[]): Ratio[] {
  return conveyor.map((c) => {
    const b = bare.find((step) => step.offered === c.offered);
    const ratio = (x: number | null | undefined, y: number | null | undefined) =>
      x === null || x === undefined || !y ? null : round(x / y, 2);
    return {
      offered: c.offered,
      throughput: ratio(c.completedPerSec, b?.completedPerSec),
      p99: ratio(c.p99, b?.p99),
      p50: ratio(c.p50, b?.p50),
    };
  });
}

function sustained(step: {
  offered: number;
  completedPerSec: number;
  done: number;
  sent: number;
  errors: number;
}): boolean {
  return (
    step.errors === 0 && step.done === step.sent && step.completedPerSec >= SUSTAINED * step.offered
  );
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const options = parseOptions(argv);
  const command =
    process.env.npm_lifecycle_event === 'bench'
      ? `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`
      : `bash bench/run.sh ${argv.join(' ')}`.trim();
  const date = new Date().toISOString();
  print(
    `${command}  (${date}, node ${process.version}, ${cpus().length} cores, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')})`,
  );
  const failures: string[] = [];

  let profileDir: string | undefined;
  if (options.profile) {
    profileDir = join(RESULTS_DIR, `profiles-${date.replace(/[:.]/g, '-')}`);
    mkdirSync(profileDir, { recursive: true });
  }
  let conveyor: ConveyorRun | undefined;
  try {
    conveyor = await runConveyor(options, profileDir, { label: 'one Redis' });
    printConveyorTable(conveyor, options, 'one Redis');
    if (conveyor.profiles && profileDir) printProfiles(conveyor.profiles, profileDir);
    failures.push(...runFailures(conveyor, ''));
  } catch (error) {
    failures.push(`conveyor: ${(error as Error).message}`);
    print(`Conveyor run failed: ${(error as Error).message}`);
  }

  let onCluster: ConveyorRun | undefined;
  if (options.redisCluster) {
    const label = `a Redis Cluster of ${CLUSTER_MASTERS} masters`;
    print();
    let cluster: RedisCluster | undefined;
    try {
      cluster = await RedisCluster.start({ masters: CLUSTER_MASTERS, replicasPerMaster: 0 });
      print(
        `Redis Cluster: ${cluster.nodes.map((n) => `127.0.0.1:${n.port} (pid ${n.pid})`).join(', ')}`,
      );
      onCluster = await runConveyor(options, undefined, { label, cluster });
      printConveyorTable(onCluster, options, label);
      failures.push(...runFailures(onCluster, 'cluster: '));
    } catch (error) {
      failures.push(`conveyor on the cluster: ${(error as Error).message}`);
      print(`Conveyor run on the cluster failed: ${(error as Error).message}`);
    } finally {
      await cluster?.stop();
    }
  }

  let bare: BareResult | undefined;
  if (options.bare) {
    print();
    print(`Bare pipeline (${BARE_SCRIPT}), same rates, step length, clients and concurrency:`);
    if (options.warmup !== WARMUP_RATE) {
      print(
        `  (its warm-up stays ${WARMUP_RATE}/s: ratios are like for like only with the default)`,
      );
    }
    try {
      bare = await runBare({
        script: BARE_SCRIPT,
        rates: options.rates,
        seconds: options.seconds,
        clients: options.clients,
        concurrency: options.concurrency,
        onLine: (line) => print(`  bare | ${line}`),
      });
    } catch (error) {
      failures.push(`bare: ${(error as Error).message.split('\n')[0]}`);
      print(`Bare pipeline failed: ${(error as Error).message}`);
    }
  }

  const ratioRows = conveyor && bare ? ratios(conveyor.rates, bare.rates) : [];
  let target: Record<string, unknown> | null = null;
  if (conveyor && bare) {
    print();
    print('Conveyor / bare, same run:');
    print(
      'offered/s  done/s conveyor  done/s bare  throughput×  p99 conveyor  p99 bare  p99×   p50 conveyor  p50 bare  p50×',
    );
    for (const r of ratioRows) {
      const c = conveyor.rates.find((step) => step.offered === r.offered);
      const b = bare.rates.find((step) => step.offered === r.offered);
      print(
        `${cell(r.offered, 10)} ${cell(c?.completedPerSec, 16)} ${cell(b?.completedPerSec, 12)} ` +
          `${cell(fixed(r.throughput, 2), 12)} ${cell(fixed(c?.p99), 13)} ${cell(fixed(b?.p99), 9)} ` +
          `${cell(fixed(r.p99, 2), 6)} ${cell(fixed(c?.p50), 13)} ${cell(fixed(b?.p50), 9)} ${fixed(r.p50, 2)}`,
      );
    }
    const bareTop = [...bare.rates].filter(sustained).sort((x, y) => y.offered - x.offered)[0];
    if (bareTop) {
      const r = ratioRows.find((row) => row.offered === bareTop.offered);
      const met =
        r !== undefined &&
        r.throughput !== null &&
        r.p99 !== null &&
        r.throughput >= TARGET.throughput &&
        r.p99 <= TARGET.p99;
      target = {
        bareSustainedRate: bareTop.offered,
        throughputRatio: r?.throughput ?? null,
        p99Ratio: r?.p99 ?? null,
        goal: `throughput ≥ ${TARGET.throughput}× and p99 ≤ ${TARGET.p99}× bare`,
        met,
      };
      print(
        `At ${bareTop.offered}/s, the highest rate the bare pipeline sustained: throughput ` +
          `${fixed(r?.throughput, 2)}×, p99 ${fixed(r?.p99, 2)}× (goal ≥ ${TARGET.throughput}×, ` +
          `≤ ${TARGET.p99}×): ${met ? 'met' : 'not met'}`,
      );
    } else {
      target = { bareSustainedRate: null, met: null };
      print('The bare pipeline sustained none of the rates in this run (machine busy?)');
    }
  }
  const cpuRows = conveyor ? cpuPerJob(conveyor, bare) : [];
  if (conveyor) printCpuPerJob(cpuRows, 'Conveyor');
  const clusterCpuRows = onCluster ? cpuPerJob(onCluster, bare) : [];
  if (onCluster) printCpuPerJob(clusterCpuRows, 'Conveyor on the cluster');
  const clusterRows = onCluster ? clusterComparison(onCluster, conveyor, bare) : [];
  if (onCluster) printClusterComparison(clusterRows, onCluster.redisNodes ?? []);
  if (conveyor) {
    const mem = (m: { rssMiB: number; peakMiB: number } | null) =>
      m ? `${m.rssMiB} MiB (peak ${m.peakMiB} MiB)` : 'gone';
    print(`RSS at the end: api ${mem(conveyor.rss.api)}, worker ${mem(conveyor.rss.worker)}`);
  }
  const ok = failures.length === 0;
  print(
    ok ? 'OK: nothing lost, no HTTP error in the measured steps' : `FAILED: ${failures.join('; ')}`,
  );

  const summary = {
    date,
    command,
    node: process.version,
    cores: cpus().length,
    options: {
      rates: options.rates,
      seconds: options.seconds,
      clients: options.clients,
      concurrency: options.concurrency,
      warmup: { rate: options.warmup, seconds: options.warmup > 0 ? WARMUP_SECONDS : 0 },
      apis: options.apis,
      workers: options.workers,
    },
    conveyor: conveyor
      ? {
          rates: conveyor.rates,
          connectSeconds: conveyor.connectSeconds,
          httpErrors: conveyor.httpErrors,
          logWarnings: conveyor.logs,
        }
      : null,
    bare: bare ? { rates: bare.rates } : null,
    ratios: ratioRows,
    cpuMsPerJob: cpuRows,
    cluster: onCluster
      ? {
          masters: CLUSTER_MASTERS,
          nodes: onCluster.redisNodes ?? [],
          rates: onCluster.rates,
          httpErrors: onCluster.httpErrors,
          logWarnings: onCluster.logs,
          cpuMsPerJob: clusterCpuRows,
          comparison: clusterRows,
          lostEvents: {
            jobs: onCluster.integrity.jobs,
            lost: onCluster.integrity.lost,
            missing: onCluster.integrity.missing,
            duplicated: onCluster.integrity.duplicated,
            orphanEvents: onCluster.integrity.orphanEvents,
            disconnects: onCluster.integrity.disconnects,
          },
        }
      : null,
    target,
    rss: conveyor?.rss ?? null,
    lostEvents: conveyor
      ? {
          jobs: conveyor.integrity.jobs,
          lost: conveyor.integrity.lost,
          missing: conveyor.integrity.missing,
          duplicated: conveyor.integrity.duplicated,
          outOfOrder: conveyor.integrity.outOfOrder,
          wrongSocket: conveyor.integrity.wrongSocket,
          eventIdRegressions: conveyor.integrity.eventIdRegressions,
          orphanEvents: conveyor.integrity.orphanEvents,
          disconnects: conveyor.integrity.disconnects,
        }
      : null,
    ok,
    failures,
  };
  const json = JSON.stringify(summary);
  try {
    mkdirSync(RESULTS_DIR, { recursive: true });
    writeFileSync(join(RESULTS_DIR, `bench-${date.replace(/[:.]/g, '-')}.json`), `${json}\n`);
  } catch {
    // the line below is the record; the file is a convenience
  }
  print(json);
  return ok ? 0 : 1;
}

// Interrupted: stop the children, drop the database and the keys (bounded), then leave.
function interrupted(code: number): void {
  print(`interrupted: cleaning up`);
  const cleanups = [...ConveyorStack.active].map((stack) => stack.cleanup());
  void Promise.race([Promise.allSettled(cleanups), sleep(60_000)]).then(() => process.exit(code));
}
process.once('SIGINT', () => interrupted(130));
process.once('SIGTERM', () => interrupted(143));

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    process.stderr.write(`bench: ${error.message}\n`);
    process.exit(1);
  },
);
