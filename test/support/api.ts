import { randomBytes } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Response } from 'supertest';
import { tokenFor, type TestStack } from './app';
import { waitFor } from './wait';
import type { QueueStats } from '../../src/core/job-queue.service';

/** The JSON shapes the REST API answers with, as the tests read them. */
export interface JobBody {
  id: string;
  kind: string;
  status: 'queued' | 'processing' | 'done' | 'error' | 'cancelled';
  priority: string;
  progress: number;
  message: string | null;
  projectId: string;
  requestId: string | null;
  params: Record<string, unknown>;
  result: Record<string, unknown> | null;
  error: string | null;
  attempts: number;
  maxAttempts: number;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  updatedAt: string;
}

export interface EventBody {
  eventId: string;
  jobId: string;
  kind: string;
  status: 'created' | 'processing' | 'progress' | 'done' | 'error' | 'cancelled';
  progress: number;
  message?: string;
  result?: Record<string, unknown>;
  error?: string;
  output?: string;
  at: string;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
}

export type { QueueStats };

export const TERMINAL = ['done', 'error', 'cancelled'] as const;

/** A user id no other test (or earlier run) uses, so tests never see each other's jobs. */
export function uniqueUser(label: string): string {
  return `${label}-${randomBytes(4).toString('hex')}`;
}

export function bearer(user: string, roles: string[] = []): string {
  return `Bearer ${tokenFor(user, roles)}`;
}

/** Asserts the error shape (docs/errors.md): exactly `{ statusCode, error, message }`, as JSON. */
export function expectError(res: Response, status: number, message?: RegExp | string): ErrorBody {
  expect({ status: res.status, body: res.body as unknown }).toMatchObject({ status });
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = res.body as ErrorBody;
  expect(Object.keys(body).sort()).toEqual(['error', 'message', 'statusCode']);
  expect(body.statusCode).toBe(status);
  expect(body.error).toBe(STATUS_CODES[status]);
  expect(typeof body.message).toBe('string');
  if (message !== undefined) expect(body.message).toMatch(message);
  return body;
}

/** REST calls made as one user (the Authorization header is fixed). */
export class Api {
  readonly auth: string;

  constructor(
    private readonly stack: Pick<TestStack, 'http'>,
    readonly user: string,
    roles: string[] = [],
  ) {
    this.auth = bearer(user, roles);
  }

  submit(kind: string, body: object, idempotencyKey?: string) {
    const req = this.stack.http().post(`/api/v1/jobs/${kind}`).set('Authorization', this.auth);
    if (idempotencyKey !== undefined) req.set('Idempotency-Key', idempotencyKey);
    return req.send(body);
  }

  /** Submits and expects 202; returns the job. */
  async submitOk(kind: string, params: object, extra: object = {}): Promise<JobBody> {
    const res = await this.submit(kind, { projectId: 'p1', params, ...extra });
    expect({ status: res.status, body: res.body as unknown }).toMatchObject({ status: 202 });
    return res.body as JobBody;
  }

  get(path: string) {
    return this.stack.http().get(`/api/v1${path}`).set('Authorization', this.auth);
  }

  post(path: string, body?: object) {
    const req = this.stack.http().post(`/api/v1${path}`).set('Authorization', this.auth);
    return body === undefined ? req : req.send(body);
  }

  async job(id: string): Promise<JobBody> {
    const res = await this.get(`/jobs/${id}`);
    expect({ status: res.status, body: res.body as unknown }).toMatchObject({ status: 200 });
    return res.body as JobBody;
  }

  async list(query: Record<string, string | number> = {}): Promise<Page<JobBody>> {
    const res = await this.get('/jobs').query(query);
    expect({ status: res.status, body: res.body as unknown }).toMatchObject({ status: 200 });
    return res.body as Page<JobBody>;
  }

  /** Every job of this user, following the cursor to the end. */
  async listAll(query: Record<string, string | number> = {}): Promise<JobBody[]> {
    const all: JobBody[] = [];
    let cursor: string | null = null;
    do {
      const page: Page<JobBody> = await this.list({
        limit: 100,
        ...query,
        ...(cursor !== null && { cursor }),
      });
      all.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor !== null);
    return all;
  }

  async events(id: string, query: Record<string, string | number> = {}): Promise<Page<EventBody>> {
    return this.eventPage(`/jobs/${id}/events`, query);
  }

  /** GET /events: the user's events across all their jobs. */
  async userEvents(query: Record<string, string | number> = {}): Promise<Page<EventBody>> {
    return this.eventPage('/events', query);
  }

  private async eventPage(
    path: string,
    query: Record<string, string | number>,
  ): Promise<Page<EventBody>> {
    const res = await this.get(path).query(query);
    expect({ status: res.status, body: res.body as unknown }).toMatchObject({ status: 200 });
    return res.body as Page<EventBody>;
  }

  async allEvents(id: string): Promise<EventBody[]> {
    return (await this.events(id, { limit: 1000 })).items;
  }

  /** Polls the job until its status is one of `statuses` (bounded by waitFor's timeout). */
  waitForStatus(
    id: string,
    statuses: readonly JobBody['status'][] = TERMINAL,
    timeoutMs?: number,
  ): Promise<JobBody> {
    return waitFor(
      `job ${id} to reach ${statuses.join('|')}`,
      async () => {
        const job = await this.job(id);
        return statuses.includes(job.status) ? job : undefined;
      },
      timeoutMs,
    );
  }
}

/** Admin calls against /api/v1/admin/queues. */
export class AdminApi extends Api {
  constructor(stack: TestStack, user = uniqueUser('admin')) {
    super(stack, user, ['admin']);
  }

  async stats(kind: string): Promise<QueueStats> {
    const res = await this.get('/admin/queues');
    expect({ status: res.status, body: res.body as unknown }).toMatchObject({ status: 200 });
    const stats = (res.body as QueueStats[]).find((entry) => entry.kind === kind);
    if (!stats) throw new Error(`no queue stats for kind ${kind}`);
    return stats;
  }

  async pause(kind: string): Promise<QueueStats> {
    const res = await this.post(`/admin/queues/${kind}/pause`);
    expect({ status: res.status, body: res.body as unknown }).toMatchObject({ status: 200 });
    return res.body as QueueStats;
  }

  async resume(kind: string): Promise<QueueStats> {
    const res = await this.post(`/admin/queues/${kind}/resume`);
    expect({ status: res.status, body: res.body as unknown }).toMatchObject({ status: 200 });
    return res.body as QueueStats;
  }

  /** Waits until no job of the kind is active, waiting, prioritized or delayed. */
  idle(kind: string): Promise<QueueStats> {
    return waitFor(`queue ${kind} to be idle`, async () => {
      const stats = await this.stats(kind);
      const busy = stats.active + stats.waiting + stats.prioritized + stats.delayed;
      return busy === 0 ? stats : undefined;
    });
  }
}
