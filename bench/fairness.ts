/**
 * npm run bench:fairness [-- --flood 2000 --few 10 --job-ms 20 --concurrency 10]
 *
 * Fair dispatch (docs/job-policies.md): user A queues `--flood` jobs of a kind whose jobs take
 * `--job-ms` each (`--concurrency` at once); once A's first tenth has run, user B submits
 * `--few`. Reported: B's queue waits (startedAt − createdAt) in job durations, and A's throughput
 * (jobs per second from A's first start to A's last finish) against a run of A alone.
 */
import { startConveyorProcess, type ConveyorProcess } from './conveyor-process';

interface JobRow {
  id: string;
  status: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

function option(argv: string[], name: string, fallback: number): number {
  const at = argv.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(argv[at + 1]);
}

const time = (value: string | null) => Date.parse(value ?? '');
const quantile = (values: number[], q: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(q * values.length))];

class Client {
  constructor(
    private readonly conveyor: ConveyorProcess,
    private readonly token: string,
  ) {}

  async call<T>(method: string, path: string, body?: object): Promise<T> {
    const res = await fetch(`${this.conveyor.base}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }

  /** Submits `count` jobs, `inFlight` at a time; returns their ids in submission order. */
  async submit(count: number, inFlight = 20): Promise<string[]> {
    const ids: string[] = new Array<string>(count);
    let next = 0;
    const lane = async () => {
      while (next < count) {
        const at = next++;
        const job = await this.call<JobRow>('POST', '/jobs/fixed', { projectId: 'p', params: {} });
        ids[at] = job.id;
      }
    };
    await Promise.all(Array.from({ length: inFlight }, lane));
    return ids;
  }

  async waitDone(id: string): Promise<void> {
    for (;;) {
      const job = await this.call<JobRow>('GET', `/jobs/${id}`);
      if (job.status === 'done') return;
      if (['error', 'cancelled'].includes(job.status)) throw new Error(`job ${id}: ${job.status}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async all(): Promise<JobRow[]> {
    const rows: JobRow[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `/jobs?limit=100${cursor ? `&cursor=${cursor}` : ''}`;
      const page: { items: JobRow[]; nextCursor: string | null } = await this.call('GET', query);
      rows.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor !== null);
    return rows;
  }
}

/** A's jobs per second from its first start to its last finish. */
function throughput(rows: JobRow[]): number {
  const start = Math.min(...rows.map((row) => time(row.startedAt)));
  const end = Math.max(...rows.map((row) => time(row.finishedAt)));
  return (rows.length * 1000) / (end - start);
}

async function run(
  conveyor: ConveyorProcess,
  label: string,
  flood: number,
  few: number,
): Promise<{ a: JobRow[]; b: JobRow[] }> {
  const admin = new Client(conveyor, conveyor.tokenFor('bench-admin', ['admin']));
  const a = new Client(conveyor, conveyor.tokenFor(`a-${label}`));
  const b = new Client(conveyor, conveyor.tokenFor(`b-${label}`));
  // A's backlog is all queued before any of it runs, as a flood submitted at once would be.
  await admin.call('POST', '/admin/queues/fixed/pause');
  const floodIds = await a.submit(flood);
  await admin.call('POST', '/admin/queues/fixed/resume');
  let fewIds: string[] = [];
  if (few > 0) {
    await a.waitDone(floodIds[Math.floor(flood / 10)]);
    fewIds = await b.submit(few, few);
    for (const id of fewIds) await b.waitDone(id);
  }
  await a.waitDone(floodIds[flood - 1]);
  for (const id of floodIds) await a.waitDone(id);
  return { a: await a.all(), b: few > 0 ? await b.all() : [] };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const flood = option(argv, 'flood', 2000);
  const few = option(argv, 'few', 10);
  const jobMs = option(argv, 'job-ms', 20);
  const concurrency = option(argv, 'concurrency', 10);
  const conveyor = await startConveyorProcess(
    'fairness',
    {
      FAIR_JOB_MS: String(jobMs),
      FAIR_CONCURRENCY: String(concurrency),
      SUBMIT_LIMIT_PER_MINUTE: '1000000',
    },
    false,
    'bench/fairness-main.ts',
  );
  try {
    const alone = await run(conveyor, 'alone', flood, 0);
    const shared = await run(conveyor, 'shared', flood, few);
    const waits = shared.b.map((row) => (time(row.startedAt) - time(row.createdAt)) / jobMs);
    const aloneRate = throughput(alone.a);
    const sharedRate = throughput(shared.a);
    const backlog = shared.a.filter(
      (row) => time(row.startedAt) > Math.max(...shared.b.map((r) => time(r.createdAt))),
    ).length;
    console.log(
      JSON.stringify(
        {
          flood,
          few,
          jobMs,
          concurrency,
          aBacklogWhenBSubmitted: backlog,
          bQueueWaitDurations: {
            p50: +quantile(waits, 0.5).toFixed(2),
            p95: +quantile(waits, 0.95).toFixed(2),
            max: +Math.max(...waits).toFixed(2),
          },
          aThroughputPerSec: { alone: +aloneRate.toFixed(1), withB: +sharedRate.toFixed(1) },
          aThroughputChangePct: +(((sharedRate - aloneRate) / aloneRate) * 100).toFixed(1),
        },
        null,
        2,
      ),
    );
  } finally {
    await conveyor.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
