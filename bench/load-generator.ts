import http from 'node:http';
import { io, type Socket } from 'socket.io-client';
import { percentile } from './proc-stats';

const MAX_INFLIGHT = 2000; // bound on outstanding HTTP requests, as in the bare pipeline
const CONNECT_BATCH = 200;
const CONNECT_TIMEOUT_MS = 60_000;
const HTTP_TIMEOUT_MS = 30_000;
const DRAIN_TIMEOUT_MS = 30_000;
const EXPECTED = ['created', 'processing', 'done'] as const;
const SAMPLES = 5;

export const now = (): number => performance.now();
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Received {
  user: number;
  name: string;
  status: string;
  /** This event's id was not above the last one the user's socket had received. */
  outOfOrder: boolean;
  at: number;
}

interface Tracked {
  user: number;
  kind: string;
  step: Step;
  startedAt: number;
  statuses: string[];
  doneAt?: number;
  wrongSocket: boolean;
  outOfOrder: boolean;
  badName: boolean;
}

interface Step {
  index: number;
  rate: number;
  startedAt: number;
  sent: number;
  accepted: number;
  errors: number;
  completed: number;
  lastDoneAt: number;
  e2e: number[];
  http: number[];
  /** Past its drain: later completions still count for integrity, no longer for throughput. */
  closed: boolean;
}

export interface StepResult {
  offered: number;
  submittedPerSec: number;
  completedPerSec: number;
  p50: number | null;
  p99: number | null;
  httpP50: number | null;
  errors: number;
  done: number;
  sent: number;
  backlogAtEnd: number;
  /** Accepted jobs of this step whose events did not all arrive, once, in order, at their owner. */
  lost: number;
}

export interface Integrity {
  jobs: number;
  complete: number;
  lost: number;
  missing: number;
  duplicated: number;
  outOfOrder: number;
  wrongSocket: number;
  unexpected: number;
  /** Events whose id was not above the previous one at the same socket. */
  eventIdRegressions: number;
  /** Events for job ids no accepted submit returned. */
  orphanEvents: number;
  resyncs: number;
  disconnects: number;
  examples: string[];
}

export interface LoadOptions {
  /** One per api process: user i's socket uses baseUrls[i % n], submits go round the list. */
  baseUrls: readonly string[];
  tokens: readonly string[];
  /** Submits go round the kinds as they go round the apis. */
  kinds: readonly string[];
}

/**
 * The load generator: one authenticated Socket.IO client per user, open-loop HTTP submits at a
 * stepped rate, and a record of every event each socket receives.
 */
export class LoadGenerator {
  private readonly sockets: Socket[] = [];
  private readonly lastEventId: bigint[];
  private readonly jobs = new Map<string, Tracked>();
  /** Events that arrived before the submit that created their job had answered. */
  private readonly early = new Map<string, Received[]>();
  private readonly steps: Step[] = [];
  // With a timeout set, the agent drops idle sockets 1 s before the server's announced
  // keep-alive timeout (5 s for Node's server); without one it keeps them and a submit after a
  // pause can meet a socket the server is closing (ECONNRESET).
  private readonly agent = new http.Agent({
    keepAlive: true,
    maxSockets: 256,
    timeout: HTTP_TIMEOUT_MS,
  });
  /** urls[k][a]: kind k's submit route on api a. */
  private readonly urls: URL[][];
  private submits = 0;
  private readonly errorKinds = new Map<string, number>();
  private inflight = 0;
  private regressions = 0;
  private resyncs = 0;
  private disconnects = 0;
  private closing = false;

  constructor(private readonly options: LoadOptions) {
    this.urls = options.kinds.map((kind) =>
      options.baseUrls.map((base) => new URL(`/api/v1/jobs/${kind}`, base)),
    );
    this.lastEventId = options.tokens.map(() => 0n);
  }

  get errorsByKind(): Record<string, number> {
    return Object.fromEntries(this.errorKinds);
  }

  /** Connects every client, CONNECT_BATCH at a time; rejects on the first refusal or timeout. */
  async connect(): Promise<void> {
    const { tokens } = this.options;
    for (let start = 0; start < tokens.length; start += CONNECT_BATCH) {
      const batch = tokens.slice(start, start + CONNECT_BATCH);
      await Promise.all(batch.map((token, k) => this.connectOne(start + k, token)));
    }
  }

  private connectOne(user: number, token: string): Promise<void> {
    const { baseUrls } = this.options;
    const socket = io(baseUrls[user % baseUrls.length] ?? '', {
      auth: { token },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      timeout: CONNECT_TIMEOUT_MS,
    });
    this.sockets.push(socket);
    socket.onAny((name: string, payload: unknown) => this.onEvent(user, name, payload));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`socket u${user}: not connected within ${CONNECT_TIMEOUT_MS} ms`)),
        CONNECT_TIMEOUT_MS,
      );
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.on('disconnect', () => {
          if (!this.closing) this.disconnects += 1;
        });
        resolve();
      });
      socket.once('connect_error', (error) => {
        clearTimeout(timer);
        reject(new Error(`socket u${user}: ${error.message}`));
      });
    });
  }

  private onEvent(user: number, name: string, payload: unknown): void {
    const at = now();
    if (name === 'resync') {
      this.resyncs += 1;
      return;
    }
    const event = payload as { eventId?: unknown; jobId?: unknown; status?: unknown };
    if (typeof event?.jobId !== 'string' || typeof event.eventId !== 'string') return;
    const id = BigInt(event.eventId);
    const outOfOrder = id <= (this.lastEventId[user] ?? 0n);
    if (outOfOrder) this.regressions += 1;
    else this.lastEventId[user] = id;
    const received: Received = { user, name, status: String(event.status), outOfOrder, at };
    const job = this.jobs.get(event.jobId);
    if (job) this.apply(job, received);
    else {
      const pending = this.early.get(event.jobId);
      if (pending) pending.push(received);
      else this.early.set(event.jobId, [received]);
    }
  }

  private apply(job: Tracked, event: Received): void {
    job.statuses.push(event.status);
    if (event.user !== job.user) job.wrongSocket = true;
    if (event.outOfOrder) job.outOfOrder = true;
    if (event.name !== `${job.kind}:${event.status}`) job.badName = true;
    if (event.status === 'done' && job.doneAt === undefined) {
      job.doneAt = event.at;
      if (job.step.closed) return;
      job.step.completed += 1;
      job.step.e2e.push(event.at - job.startedAt);
      job.step.lastDoneAt = Math.max(job.step.lastDoneAt, event.at);
    }
  }

  private fail(step: Step, kind: string): void {
    step.errors += 1;
    this.errorKinds.set(kind, (this.errorKinds.get(kind) ?? 0) + 1);
  }

  private submit(step: Step, n: number): void {
    const user = Math.floor(Math.random() * this.options.tokens.length);
    const body = JSON.stringify({ projectId: 'bench', params: { n } });
    const startedAt = now();
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      this.inflight -= 1;
      outcome();
    };
    this.inflight += 1;
    step.sent += 1;
    this.submits += 1;
    const kindIndex = this.submits % this.urls.length;
    const kind = this.options.kinds[kindIndex];
    const apis = this.urls[kindIndex];
    const req = http.request(
      apis[Math.floor(this.submits / this.urls.length) % apis.length] ?? '',
      {
        method: 'POST',
        agent: this.agent,
        timeout: HTTP_TIMEOUT_MS,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          authorization: `Bearer ${this.options.tokens[user]}`,
        },
      },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (data += chunk));
        res.on('error', () => settle(() => this.fail(step, 'response aborted')));
        res.on('end', () =>
          settle(() => {
            if (res.statusCode !== 202) {
              this.fail(step, `HTTP ${res.statusCode}: ${data.slice(0, 120)}`);
              return;
            }
            const { id } = JSON.parse(data) as { id: string };
            step.accepted += 1;
            step.http.push(now() - startedAt);
            const job: Tracked = {
              user,
              kind,
              step,
              startedAt,
              statuses: [],
              wrongSocket: false,
              outOfOrder: false,
              badName: false,
            };
            this.jobs.set(id, job);
            const pending = this.early.get(id);
            if (pending) {
              this.early.delete(id);
              for (const event of pending) this.apply(job, event);
            }
          }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${HTTP_TIMEOUT_MS} ms`)));
    req.on('error', (error) => settle(() => this.fail(step, error.message)));
    req.end(body);
  }

  /** One open-loop step: `rate` submits a second for `seconds`, then waits for their completion. */
  async runStep(
    rate: number,
    seconds: number,
    onSendEnd: () => void = () => undefined,
  ): Promise<{ sendSeconds: number; backlog: number }> {
    const step: Step = {
      index: this.steps.length,
      rate,
      startedAt: now(),
      sent: 0,
      accepted: 0,
      errors: 0,
      completed: 0,
      lastDoneAt: 0,
      e2e: [],
      http: [],
      closed: false,
    };
    this.steps.push(step);
    const total = Math.round(rate * seconds);
    const t0 = step.startedAt;
    while (step.sent < total && now() - t0 < seconds * 1000 + 5000) {
      const due = Math.min(total, Math.floor(((now() - t0) / 1000) * rate));
      while (step.sent < due && this.inflight < MAX_INFLIGHT) this.submit(step, step.sent);
      await sleep(2);
    }
    const sendSeconds = (now() - t0) / 1000;
    onSendEnd();
    const backlog = step.sent - step.completed;
    const deadline = now() + DRAIN_TIMEOUT_MS;
    while (step.completed + step.errors < step.sent && now() < deadline) await sleep(20);
    step.closed = true; // as in the bare pipeline: what completes later is not this step's
    return { sendSeconds, backlog };
  }

  /** Waits (bounded) until every accepted job has its done event or nothing more is in flight. */
  async drain(timeoutMs: number): Promise<void> {
    const deadline = now() + timeoutMs;
    const pending = () =>
      this.inflight > 0 || [...this.jobs.values()].some((job) => job.doneAt === undefined);
    while (pending() && now() < deadline) await sleep(50);
    await sleep(500); // late duplicates, if any, would arrive now
  }

  stepResult(index: number, sendSeconds: number, backlog: number): StepResult {
    const step = this.steps[index];
    if (!step) throw new Error(`no step ${index}`);
    const wallSeconds = ((step.lastDoneAt || now()) - step.startedAt) / 1000;
    let lost = 0;
    for (const job of this.jobs.values()) if (job.step === step && !this.isComplete(job)) lost += 1;
    return {
      offered: step.rate,
      submittedPerSec: Math.round(step.sent / sendSeconds),
      completedPerSec: Math.round(step.completed / wallSeconds),
      p50: percentile(step.e2e, 50),
      p99: percentile(step.e2e, 99),
      httpP50: percentile(step.http, 50),
      errors: step.errors,
      done: step.completed,
      sent: step.sent,
      backlogAtEnd: backlog,
      lost,
    };
  }

  private isComplete(job: Tracked): boolean {
    const seen = job.statuses.filter((status) => status !== 'progress');
    return (
      !job.wrongSocket &&
      !job.outOfOrder &&
      !job.badName &&
      seen.length === EXPECTED.length &&
      seen.every((status, i) => status === EXPECTED[i])
    );
  }

  /** Every accepted job must have received created → processing → done, once each, in order. */
  integrity(): Integrity {
    const result: Integrity = {
      jobs: this.jobs.size,
      complete: 0,
      lost: 0,
      missing: 0,
      duplicated: 0,
      outOfOrder: 0,
      wrongSocket: 0,
      unexpected: 0,
      eventIdRegressions: this.regressions,
      orphanEvents: [...this.early.values()].reduce((sum, list) => sum + list.length, 0),
      resyncs: this.resyncs,
      disconnects: this.disconnects,
      examples: [],
    };
    for (const [id, job] of this.jobs) {
      if (this.isComplete(job)) {
        result.complete += 1;
        continue;
      }
      result.lost += 1;
      const seen = job.statuses.filter((status) => status !== 'progress');
      const counts = EXPECTED.map((status) => seen.filter((s) => s === status).length);
      if (counts.some((c) => c === 0)) result.missing += 1;
      if (counts.some((c) => c > 1)) result.duplicated += 1;
      if (seen.some((s) => !(EXPECTED as readonly string[]).includes(s))) result.unexpected += 1;
      if (job.wrongSocket) result.wrongSocket += 1;
      const wrongOrder =
        seen.length === EXPECTED.length && seen.some((status, i) => status !== EXPECTED[i]);
      if (job.outOfOrder || wrongOrder) result.outOfOrder += 1;
      if (result.examples.length < SAMPLES) {
        result.examples.push(`job ${id} (u${job.user}): [${job.statuses.join(', ')}]`);
      }
    }
    return result;
  }

  close(): void {
    this.closing = true;
    for (const socket of this.sockets) socket.close();
    this.agent.destroy();
  }
}
