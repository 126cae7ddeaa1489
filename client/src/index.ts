import { io, type Socket } from 'socket.io-client';

/* ---------- the service's shapes (the api's DTOs, checked against its OpenAPI document) ---------- */

export type JsonValue =
  string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export type JobStatus = 'queued' | 'processing' | 'done' | 'error' | 'cancelled';
export type JobEventStatus = 'created' | 'processing' | 'progress' | 'done' | 'error' | 'cancelled';
export type Priority = 'critical' | 'high' | 'medium' | 'low';

export const TERMINAL_STATUSES: readonly JobStatus[] = ['done', 'error', 'cancelled'];

export interface Job<P = Record<string, JsonValue>, R = JsonValue> {
  id: string;
  kind: string;
  status: JobStatus;
  priority: Priority;
  progress: number;
  message: string | null;
  projectId: string;
  requestId: string | null;
  params: P;
  result: R | null;
  error: string | null;
  attempts: number;
  maxAttempts: number;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  updatedAt: string;
}

export interface JobEvent {
  /** Opaque, strictly increasing per user. */
  eventId: string;
  jobId: string;
  kind: string;
  status: JobEventStatus;
  progress: number;
  message?: string;
  result?: Record<string, unknown>;
  error?: string;
  /** Streamed output appended since the job's previous event (progress events). */
  output?: string;
  at: string;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface SubmitRequest<P = Record<string, JsonValue>> {
  projectId: string;
  params: P;
  priority?: Priority;
  requestId?: string;
}

export interface ListJobsQuery {
  kind?: string;
  status?: JobStatus;
  limit?: number;
  cursor?: string;
}

export interface JobLog {
  content: string;
  truncated: boolean;
}

export interface KindInfo {
  name: string;
  /** JSON Schema of the params (the same one OpenAPI and MCP publish). */
  paramsSchema: Record<string, unknown>;
  /** JSON Schema of the result; null when the kind's result is free-form. */
  resultSchema: Record<string, unknown> | null;
  /** Whether a job of this kind runs in a ready project's workspace. */
  workspace: boolean;
}

export type ProjectStatus = 'cloning' | 'ready' | 'error';

export interface Project {
  id: string;
  name: string;
  repoUrl: string | null;
  defaultBranch: string;
  status: ProjectStatus;
  error: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface CreateProjectRequest {
  name: string;
  repoUrl?: string;
  defaultBranch?: string;
}

export interface QueueStats {
  kind: string;
  paused: boolean;
  waiting: number;
  active: number;
  prioritized: number;
  delayed: number;
  completed: number;
  failed: number;
}

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
}

/* ---------------------------------------------- errors ---------------------------------------------- */

/** Any failure of a call: the service answered an error, or it could not be reached. */
export class ConveyorError extends Error {
  override name = 'ConveyorError';
}

/** The service answered `{ statusCode, error, message }`. */
export class ConveyorHttpError extends ConveyorError {
  override name = 'ConveyorHttpError';
  constructor(
    readonly status: number,
    readonly body: ErrorBody,
  ) {
    super(`${status} ${body.error}: ${body.message}`);
  }
}
export class BadRequestError extends ConveyorHttpError {
  override name = 'BadRequestError';
}
export class UnauthorizedError extends ConveyorHttpError {
  override name = 'UnauthorizedError';
}
export class ForbiddenError extends ConveyorHttpError {
  override name = 'ForbiddenError';
}
export class NotFoundError extends ConveyorHttpError {
  override name = 'NotFoundError';
}
export class ConflictError extends ConveyorHttpError {
  override name = 'ConflictError';
}
export class RateLimitedError extends ConveyorHttpError {
  override name = 'RateLimitedError';
  constructor(
    status: number,
    body: ErrorBody,
    /** Seconds to wait, from Retry-After. */
    readonly retryAfterSec: number,
  ) {
    super(status, body);
  }
}
export class ServiceUnavailableError extends ConveyorHttpError {
  override name = 'ServiceUnavailableError';
}
/**
 * The server answered a resume (`lastEventId`) with `resync` (over the socket) or 410 (polling
 * GET /events): that event is no longer retained
 * (EVENT_RETENTION_SEC), so what came after it cannot be replayed. The iterator ends with this
 * error; refetch state over REST (`get`, `list`, `log`) and start a new `events()` without
 * `lastEventId` (or a new `watch`, which replays the job's retained history from its start).
 */
export class ResyncRequiredError extends ConveyorError {
  override name = 'ResyncRequiredError';
  constructor(
    /** The event id the client resumed from. */
    readonly lastEventId: string,
    reason: string,
  ) {
    super(`resync: ${reason}`);
  }
}

/** The service could not be reached (connection refused, DNS, aborted). */
export class ConveyorNetworkError extends ConveyorError {
  override name = 'ConveyorNetworkError';
}

function httpError(res: Response, body: ErrorBody): ConveyorHttpError {
  switch (res.status) {
    case 400:
      return new BadRequestError(res.status, body);
    case 401:
      return new UnauthorizedError(res.status, body);
    case 403:
      return new ForbiddenError(res.status, body);
    case 404:
      return new NotFoundError(res.status, body);
    case 409:
      return new ConflictError(res.status, body);
    case 429:
      return new RateLimitedError(res.status, body, Number(res.headers.get('retry-after') ?? 1));
    case 503:
      return new ServiceUnavailableError(res.status, body);
    default:
      return new ConveyorHttpError(res.status, body);
  }
}

function isErrorBody(value: unknown): value is ErrorBody {
  const body = value as Partial<ErrorBody> | null;
  return (
    typeof body === 'object' &&
    body !== null &&
    typeof body.statusCode === 'number' &&
    typeof body.message === 'string'
  );
}

/* ---------------------------------------------- client ---------------------------------------------- */

export interface ConveyorClientOptions {
  /** e.g. http://localhost:3000 (no trailing /api/v1); '' in a page served by Conveyor. */
  baseUrl: string;
  token: string;
  /** Interval of the polling fallback (ms). */
  pollIntervalMs?: number;
  /** How long a socket may take to connect before polling takes over (ms). */
  connectTimeoutMs?: number;
  /** Transports Socket.IO may use; websocket first by default. */
  transports?: ('websocket' | 'polling')[];
}

export interface StreamOptions {
  /** Resume after this event id (events() only; watch() starts from the job's first event). */
  lastEventId?: string;
  signal?: AbortSignal;
}

/** How an iterator is currently receiving events; reported through onTransport. */
export type Transport = 'socket' | 'polling';

const API = '/api/v1';

function after(a: string, b: string | undefined): boolean {
  return b === undefined || BigInt(a) > BigInt(b);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done);
  });
}

/** A queue an event source pushes into and an async iterator pulls from. */
class EventChannel<T> {
  private readonly items: T[] = [];
  private waiting: {
    resolve: (value: IteratorResult<T>) => void;
    reject: (error: Error) => void;
  } | null = null;
  private failure: Error | null = null;
  private closed = false;

  push(item: T): void {
    if (this.closed) return;
    if (this.waiting) {
      const { resolve } = this.waiting;
      this.waiting = null;
      resolve({ value: item, done: false });
    } else this.items.push(item);
  }

  fail(error: Error): void {
    if (this.closed) return;
    this.failure = error;
    this.closed = true;
    if (this.waiting) {
      const { reject } = this.waiting;
      this.waiting = null;
      reject(error);
    }
  }

  close(): void {
    this.closed = true;
    if (this.waiting) {
      const { resolve } = this.waiting;
      this.waiting = null;
      resolve({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<T>> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve({ value: item, done: false });
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }
}

export class ConveyorClient {
  private readonly baseUrl: string;
  private token: string;
  private readonly pollIntervalMs: number;
  private readonly connectTimeoutMs: number;
  private readonly transports: ('websocket' | 'polling')[];
  /** Called when an iterator switches between socket and polling. */
  onTransport: ((transport: Transport) => void) | undefined;

  constructor(options: ConveyorClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.token = options.token;
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    this.transports = options.transports ?? ['websocket', 'polling'];
  }

  setToken(token: string): void {
    this.token = token;
  }

  /* ---------- REST ---------- */

  submit<P = Record<string, JsonValue>, R = JsonValue>(
    kind: string,
    body: SubmitRequest<P>,
    options: { idempotencyKey?: string } = {},
  ): Promise<Job<P, R>> {
    const headers: Record<string, string> = {};
    if (options.idempotencyKey !== undefined) headers['idempotency-key'] = options.idempotencyKey;
    return this.request('POST', `/jobs/${encodeURIComponent(kind)}`, body, headers);
  }

  get<P = Record<string, JsonValue>, R = JsonValue>(id: string): Promise<Job<P, R>> {
    return this.request('GET', `/jobs/${encodeURIComponent(id)}`);
  }

  list(query: ListJobsQuery = {}): Promise<Page<Job>> {
    return this.request('GET', `/jobs${queryString({ ...query })}`);
  }

  /** One page of a job's event history after a cursor (REST; the polling fallback uses it). */
  eventHistory(id: string, after?: string, limit?: number): Promise<Page<JobEvent>> {
    return this.request(
      'GET',
      `/jobs/${encodeURIComponent(id)}/events${queryString({ after, limit })}`,
    );
  }

  /**
   * One page of the caller's events across all their jobs after a cursor (REST; the polling
   * fallback of `events()` uses it). Without `after`: no events, and the newest eventId as
   * `nextCursor`. A cursor no longer retained is a 410 (ConveyorHttpError).
   */
  userEventHistory(after?: string, limit?: number): Promise<Page<JobEvent>> {
    return this.request('GET', `/events${queryString({ after, limit })}`);
  }

  /** The job's stored output (text/plain; the tail when it outgrew the service's cap). */
  async log(id: string): Promise<JobLog> {
    const res = await this.send('GET', `/jobs/${encodeURIComponent(id)}/log`, undefined, {
      accept: 'text/plain',
    });
    return {
      content: await res.text(),
      truncated: res.headers.get('x-log-truncated') === 'true',
    };
  }

  cancel(id: string): Promise<Job> {
    return this.request('POST', `/jobs/${encodeURIComponent(id)}/cancel`);
  }

  retry(id: string): Promise<Job> {
    return this.request('POST', `/jobs/${encodeURIComponent(id)}/retry`);
  }

  kinds(): Promise<KindInfo[]> {
    return this.request('GET', '/kinds');
  }

  createProject(body: CreateProjectRequest): Promise<Project> {
    return this.request('POST', '/projects', body);
  }

  projects(): Promise<Project[]> {
    return this.request('GET', '/projects');
  }

  project(id: string): Promise<Project> {
    return this.request('GET', `/projects/${encodeURIComponent(id)}`);
  }

  /** Admin: every kind's queue counts. */
  queues(): Promise<QueueStats[]> {
    return this.request('GET', '/admin/queues');
  }

  pauseQueue(kind: string): Promise<QueueStats> {
    return this.request('POST', `/admin/queues/${encodeURIComponent(kind)}/pause`);
  }

  resumeQueue(kind: string): Promise<QueueStats> {
    return this.request('POST', `/admin/queues/${encodeURIComponent(kind)}/resume`);
  }

  cleanQueue(
    kind: string,
    body: { graceMs?: number; limit?: number } = {},
  ): Promise<{ kind: string; completed: number; failed: number }> {
    return this.request('POST', `/admin/queues/${encodeURIComponent(kind)}/clean`, body);
  }

  /* ---------- live events ---------- */

  /**
   * Every event of the caller, live, in eventId order. Over Socket.IO; after a disconnect it
   * reconnects with the last event id it yielded, so the server replays what was missed (no gap,
   * no duplicate). If the socket cannot connect, it polls GET /events from the last event it
   * yielded instead; either way a resume point no longer retained ends it with ResyncRequiredError.
   */
  events(options: StreamOptions = {}): AsyncIterableIterator<JobEvent> {
    return this.stream(options, undefined);
  }

  /**
   * One job's events from its first one until it ends (done, error or cancelled): its history
   * first, then live. Falls back to polling GET /jobs/:id/events when the socket cannot connect.
   */
  watch(
    jobId: string,
    options: Omit<StreamOptions, 'lastEventId'> = {},
  ): AsyncIterableIterator<JobEvent> {
    return this.stream(options, jobId);
  }

  private stream(
    options: StreamOptions,
    jobId: string | undefined,
  ): AsyncIterableIterator<JobEvent> {
    const channel = new EventChannel<JobEvent>();
    const stop = new AbortController();
    const signal = options.signal;
    signal?.addEventListener('abort', () => stop.abort());
    void this.run(channel, stop.signal, jobId, options.lastEventId).then(
      () => channel.close(),
      (error: Error) => channel.fail(error),
    );
    const iterator: AsyncIterableIterator<JobEvent> = {
      next: () => channel.next(),
      return: () => {
        stop.abort();
        channel.close();
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  private async run(
    channel: EventChannel<JobEvent>,
    signal: AbortSignal,
    jobId: string | undefined,
    lastEventId: string | undefined,
  ): Promise<void> {
    let last = lastEventId;
    let finished = false;
    const emit = (event: JobEvent): void => {
      if (!after(event.eventId, last) || (jobId !== undefined && event.jobId !== jobId)) return;
      last = event.eventId;
      channel.push(event);
      if (jobId !== undefined && TERMINAL_STATUSES.includes(event.status as JobStatus)) {
        finished = true;
      }
    };
    if (jobId !== undefined) {
      // The job's past first: the socket then resumes right after its last stored event.
      await this.replay((after) => this.eventHistory(jobId, after, 100), undefined, emit, signal);
      if (finished) return;
    }
    const outcome = await this.viaSocket(
      signal,
      () => last,
      emit,
      () => finished,
    );
    if (outcome === 'ended' || signal.aborted || finished) return;
    this.onTransport?.('polling');
    if (jobId === undefined && last === undefined) {
      // Live from now, as over the socket: what is already stored is not news.
      last = (await this.userEventHistory()).nextCursor ?? '0';
    }
    while (!signal.aborted && !finished) {
      if (jobId !== undefined) {
        await this.replay((after) => this.eventHistory(jobId, after, 100), last, emit, signal);
      } else {
        await this.followUserEvents(() => last ?? '0', emit, signal);
      }
      if (!finished) await sleep(this.pollIntervalMs, signal);
    }
  }

  /**
   * Streams over one Socket.IO connection until the signal aborts or the job ends ('ended').
   * Resolves 'unreachable' when the socket cannot connect within connectTimeoutMs, at first or
   * after losing its connection: the caller then polls on from the last event it yielded.
   */
  private viaSocket(
    signal: AbortSignal,
    last: () => string | undefined,
    emit: (event: JobEvent) => void,
    finished: () => boolean,
  ): Promise<'ended' | 'unreachable'> {
    return new Promise<'ended' | 'unreachable'>((resolve, reject) => {
      let everConnected = false;
      const socket: Socket = io(this.baseUrl || undefined, {
        transports: this.transports,
        forceNew: true,
        reconnectionDelay: 250,
        reconnectionDelayMax: 2000,
        // Read at every (re)connect: the server replays what came after the last yielded event.
        auth: (callback) => {
          const lastEventId = last();
          callback(
            lastEventId === undefined ? { token: this.token } : { token: this.token, lastEventId },
          );
        },
      });
      const finish = (outcome: 'ended' | 'unreachable' | Error) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        socket.removeAllListeners();
        socket.offAny();
        socket.close();
        if (outcome instanceof Error) reject(outcome);
        else resolve(outcome);
      };
      const onAbort = () => finish('ended');
      const giveUp = () => setTimeout(() => finish('unreachable'), this.connectTimeoutMs);
      let timer = giveUp();
      signal.addEventListener('abort', onAbort);
      socket.on('connect', () => {
        if (!everConnected) this.onTransport?.('socket');
        everConnected = true;
        clearTimeout(timer);
      });
      socket.on('connect_error', (error: Error) => {
        if (/^unauthorized/.test(error.message)) {
          finish(
            new UnauthorizedError(401, {
              statusCode: 401,
              error: 'Unauthorized',
              message: error.message,
            }),
          );
        } else if (!everConnected) finish('unreachable');
        // After a disconnect Socket.IO keeps reconnecting by itself, within the timer's bound.
      });
      socket.on('disconnect', (reason: string) => {
        clearTimeout(timer);
        timer = giveUp();
        // A server-side disconnect (a restart, a resync) is not retried by Socket.IO itself.
        if (reason === 'io server disconnect' && !signal.aborted) socket.connect();
      });
      socket.on('resync', (notice: { reason: string; lastEventId: string }) => {
        finish(new ResyncRequiredError(notice.lastEventId, notice.reason));
      });
      socket.onAny((name: string, payload: unknown) => {
        if (!/:(created|processing|progress|done|error|cancelled)$/.test(name)) return;
        emit(payload as JobEvent);
        if (finished()) finish('ended');
      });
    });
  }

  /** Every page after `from`, each yielded as it arrives (a long backlog is not gathered first). */
  private async replay(
    read: (after: string | undefined) => Promise<Page<JobEvent>>,
    from: string | undefined,
    emit: (event: JobEvent) => void,
    signal: AbortSignal,
  ): Promise<void> {
    let cursor = from;
    while (!signal.aborted) {
      const page = await read(cursor);
      for (const event of page.items) emit(event);
      if (page.nextCursor === null) return;
      cursor = page.nextCursor;
    }
  }

  /** The caller's retained events after the last one yielded; a pruned one ends the stream. */
  private async followUserEvents(
    last: () => string,
    emit: (event: JobEvent) => void,
    signal: AbortSignal,
  ): Promise<void> {
    try {
      await this.replay((after) => this.userEventHistory(after, 1000), last(), emit, signal);
    } catch (error) {
      if (error instanceof ConveyorHttpError && error.status === 410) {
        throw new ResyncRequiredError(last(), error.body.message);
      }
      throw error;
    }
  }

  private async request<T>(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<T> {
    const res = await this.send(method, path, body, headers);
    const text = await res.text();
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  /** One HTTP call; an error answer is thrown as the matching ConveyorHttpError. */
  private async send(
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    headers: Record<string, string>,
  ): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${API}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          accept: 'application/json',
          ...(body !== undefined && { 'content-type': 'application/json' }),
          ...headers,
        },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw new ConveyorNetworkError(`${method} ${path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (res.ok) return res;
    const text = await res.text();
    let parsed: unknown = undefined;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    throw httpError(
      res,
      isErrorBody(parsed)
        ? parsed
        : { statusCode: res.status, error: res.statusText, message: text.slice(0, 200) },
    );
  }
}

function queryString(query: Record<string, string | number | undefined>): string {
  const entries = Object.entries(query).filter(
    (entry): entry is [string, string | number] => entry[1] !== undefined,
  );
  if (entries.length === 0) return '';
  return `?${entries.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join('&')}`;
}
