import { LiveEvents, type StreamOptions, type Transport } from './events.js';
import { Http, queryString } from './http.js';
import type {
  AdminUsage,
  CreateProjectRequest,
  Job,
  JobEvent,
  JobLog,
  JsonValue,
  KindInfo,
  ListJobsQuery,
  Page,
  Project,
  QueueStats,
  SubmitRequest,
  Usage,
  UsageQuery,
} from './types.js';

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

export class ConveyorClient {
  private readonly http: Http;
  private readonly live: LiveEvents;
  /** Called when an iterator switches between socket and polling. */
  onTransport: ((transport: Transport) => void) | undefined;

  constructor(options: ConveyorClientOptions) {
    this.http = new Http(options.baseUrl.replace(/\/+$/, ''), options.token);
    this.live = new LiveEvents({
      baseUrl: this.http.baseUrl,
      token: () => this.http.token,
      transports: options.transports ?? ['websocket', 'polling'],
      pollIntervalMs: options.pollIntervalMs ?? 1000,
      connectTimeoutMs: options.connectTimeoutMs ?? 5000,
      onTransport: (transport) => this.onTransport?.(transport),
      eventHistory: (id, after, limit) => this.eventHistory(id, after, limit),
      userEventHistory: (after, limit) => this.userEventHistory(after, limit),
    });
  }

  setToken(token: string): void {
    this.http.token = token;
  }

  /* ---------- REST ---------- */

  submit<P = Record<string, JsonValue>, R = JsonValue>(
    kind: string,
    body: SubmitRequest<P>,
    options: { idempotencyKey?: string } = {},
  ): Promise<Job<P, R>> {
    const headers: Record<string, string> = {};
    if (options.idempotencyKey !== undefined) headers['idempotency-key'] = options.idempotencyKey;
    return this.http.request('POST', `/jobs/${encodeURIComponent(kind)}`, body, headers);
  }

  get<P = Record<string, JsonValue>, R = JsonValue>(id: string): Promise<Job<P, R>> {
    return this.http.request('GET', `/jobs/${encodeURIComponent(id)}`);
  }

  list(query: ListJobsQuery = {}): Promise<Page<Job>> {
    return this.http.request('GET', `/jobs${queryString({ ...query })}`);
  }

  /** One page of a job's event history after a cursor (REST; the polling fallback uses it). */
  eventHistory(id: string, after?: string, limit?: number): Promise<Page<JobEvent>> {
    return this.http.request(
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
    return this.http.request('GET', `/events${queryString({ after, limit })}`);
  }

  /** The job's stored output (text/plain; the tail when it outgrew the service's cap). */
  async log(id: string): Promise<JobLog> {
    const res = await this.http.send('GET', `/jobs/${encodeURIComponent(id)}/log`, undefined, {
      accept: 'text/plain',
    });
    return {
      content: await res.text(),
      truncated: res.headers.get('x-log-truncated') === 'true',
    };
  }

  cancel(id: string): Promise<Job> {
    return this.http.request('POST', `/jobs/${encodeURIComponent(id)}/cancel`);
  }

  retry(id: string): Promise<Job> {
    return this.http.request('POST', `/jobs/${encodeURIComponent(id)}/retry`);
  }

  kinds(): Promise<KindInfo[]> {
    return this.http.request('GET', '/kinds');
  }

  createProject(body: CreateProjectRequest): Promise<Project> {
    return this.http.request('POST', '/projects', body);
  }

  projects(): Promise<Project[]> {
    return this.http.request('GET', '/projects');
  }

  project(id: string): Promise<Project> {
    return this.http.request('GET', `/projects/${encodeURIComponent(id)}`);
  }

  /** The caller's LLM tokens per provider and model, and per UTC day. */
  usage(query: UsageQuery = {}): Promise<Usage> {
    return this.http.request('GET', `/usage${queryString({ ...query })}`);
  }

  /** Admin: every user's LLM tokens. */
  adminUsage(query: UsageQuery = {}): Promise<AdminUsage> {
    return this.http.request('GET', `/admin/usage${queryString({ ...query })}`);
  }

  /** Admin: every kind's queue counts. */
  queues(): Promise<QueueStats[]> {
    return this.http.request('GET', '/admin/queues');
  }

  pauseQueue(kind: string): Promise<QueueStats> {
    return this.http.request('POST', `/admin/queues/${encodeURIComponent(kind)}/pause`);
  }

  resumeQueue(kind: string): Promise<QueueStats> {
    return this.http.request('POST', `/admin/queues/${encodeURIComponent(kind)}/resume`);
  }

  cleanQueue(
    kind: string,
    body: { graceMs?: number; limit?: number } = {},
  ): Promise<{ kind: string; completed: number; failed: number }> {
    return this.http.request('POST', `/admin/queues/${encodeURIComponent(kind)}/clean`, body);
  }

  /* ---------- live events ---------- */

  /**
   * Every event of the caller, live, in eventId order. Over Socket.IO; after a disconnect it
   * reconnects with the last event id it yielded, so the server replays what was missed (no gap,
   * no duplicate). If the socket cannot connect, it polls GET /events from the last event it
   * yielded instead; either way a resume point no longer retained ends it with ResyncRequiredError.
   */
  events(options: StreamOptions = {}): AsyncIterableIterator<JobEvent> {
    return this.live.open(options, undefined);
  }

  /**
   * One job's events from its first one until it ends (done, error or cancelled): its history
   * first, then live. Falls back to polling GET /jobs/:id/events when the socket cannot connect.
   */
  watch(
    jobId: string,
    options: Omit<StreamOptions, 'lastEventId'> = {},
  ): AsyncIterableIterator<JobEvent> {
    return this.live.open(options, jobId);
  }
}
