import { createHash } from 'node:crypto';
import { HttpException, Logger } from '@nestjs/common';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  CallToolRequestSchema,
  ErrorCode,
  ListToolsRequestSchema,
  LoggingLevelSchema,
  SetLevelRequestSchema,
  McpError,
  type CallToolRequest,
  type CallToolResult,
  type CreateTaskResult,
  type ProgressToken,
  type Request,
  type RequestId,
  type ServerNotification,
  type ServerRequest,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import type { Cluster, Redis } from 'ioredis';
import type { McpConfig } from '../config/mcp.config';
import type { PublishedJobEvent } from '../core/job-event-bus';
import type { JobRepository } from '../core/job.repository';
import type { JobService } from '../core/job.service';
import { isTerminal } from '../core/job.types';
import type { Job } from '../generated/prisma/client';
import type { JobEventListeners } from '../realtime/job-event-listeners';
import { UserEventFeed } from '../realtime/user-event-feed';
import type { CodeSearchService } from '../search/code-search.service';
import { ConveyorMcpServer } from './conveyor-mcp.server';
import { JobTaskStore } from './job-task-store';
import { outputOf, ProgressTracker, type McpJobEvent } from './mcp-progress';
import {
  CANCEL_JOB,
  GET_JOB,
  jobAnswer,
  jobIdArgument,
  jobOutcome,
  refusal,
  submitBody,
} from './mcp-tools';
import { RedisEventStore } from './redis-event-store';
import { SEARCH_CODE, searchCode } from './search-code-tool';

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;
type Send = (notification: ServerNotification) => Promise<void>;

/** Events of jobs no call follows yet are kept this long, for a call whose submit just returned. */
const RECENT_MS = 60_000;
const RECENT_MAX_JOBS = 1000;
const LOG_LEVELS: readonly string[] = LoggingLevelSchema.options;

export interface McpSessionDeps {
  config: McpConfig;
  jobs: JobService;
  events: JobRepository;
  listeners: JobEventListeners;
  redis: Redis | Cluster;
  /** `<prefix>:mcp`. */
  keyPrefix: string;
  tools: Tool[];
  /** Tool name → kind name. */
  kinds: Map<string, string>;
  search: CodeSearchService;
  logger: Logger;
}

/**
 * One MCP session: its SDK server and transport, bound to one user. Its user's job events come
 * in through one ordered, gap-filling feed (a UserEventFeed, as a socket's) and are handed to the
 * calls and tasks that follow a job.
 */
export class McpSession {
  readonly server: Server;
  readonly transport: StreamableHTTPServerTransport;
  readonly eventStore: RedisEventStore;
  /** Set when the session ends: aborted handlers then must not cancel their jobs. */
  closing = false;
  lastSeen = Date.now();
  openRequests = 0;
  private readonly feed: UserEventFeed;
  private sendsOutput = true;
  private readonly taskStore: JobTaskStore;
  private unlisten?: () => void;
  private readonly followers = new Map<string, Set<(event: McpJobEvent) => void>>();
  private readonly recent = new Map<string, { at: number; events: McpJobEvent[] }>();

  constructor(
    readonly id: string,
    readonly userId: string,
    private readonly deps: McpSessionDeps,
    onClosed: () => void,
  ) {
    this.eventStore = new RedisEventStore(deps.redis, deps.keyPrefix, id, deps.config.eventTtlSec);
    this.transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => id,
      eventStore: this.eventStore,
      onsessionclosed: () => {
        this.closing = true;
      },
    });
    // Set before connect(), so the SDK chains it ahead of aborting the running handlers.
    this.transport.onclose = () => {
      this.closing = true;
      this.unlisten?.();
      this.feed.close();
      onClosed();
      void this.eventStore.drop().catch(() => undefined);
    };
    const taskStore = (this.taskStore = new JobTaskStore(
      userId,
      deps.jobs,
      deps.redis,
      deps.keyPrefix,
      deps.config,
      (request, requestId) => this.submitForTask(request, requestId),
    ));
    this.server = new ConveyorMcpServer(
      { name: 'conveyor', version: '1.0.0' },
      {
        capabilities: {
          tools: {},
          logging: {},
          tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } },
        },
        taskStore,
        defaultTaskPollInterval: deps.config.taskPollIntervalMs,
      },
    );
    this.server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: deps.tools }));
    // Output goes out as info-level logging: a client that asked for less does not get it.
    this.server.setRequestHandler(SetLevelRequestSchema, (request) => {
      this.sendsOutput = LOG_LEVELS.indexOf(request.params.level) <= LOG_LEVELS.indexOf('info');
      return {};
    });
    this.server.setRequestHandler(CallToolRequestSchema, (request, extra) =>
      this.callTool(request, extra),
    );
    // Started at the user's latest event, the feed never resyncs; a failed start fails start().
    this.feed = new UserEventFeed(
      {
        emit: (event) => this.dispatch(event),
        resync: () => undefined,
        disconnect: () => undefined,
      },
      userId,
      deps.events,
      (error) => deps.logger.warn(`mcp session ${id}: ${(error as Error).message}`),
    );
  }

  /** Follows the user's events from now on; before the session answers its first request. */
  async start(): Promise<void> {
    this.unlisten = this.deps.listeners.add({
      userId: this.userId,
      offer: (event: PublishedJobEvent) => void this.feed.offer(event),
      resume: () => void this.feed.resume(),
    });
    await this.feed.start(undefined);
    await this.server.connect(this.transport);
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.transport.close();
  }

  private dispatch(event: McpJobEvent): void {
    const followers = this.followers.get(event.jobId);
    if (followers) {
      for (const follower of [...followers]) follower(event);
      return;
    }
    const now = Date.now();
    for (const [jobId, entry] of this.recent) {
      if (now - entry.at < RECENT_MS && this.recent.size < RECENT_MAX_JOBS) break;
      this.recent.delete(jobId);
    }
    const entry = this.recent.get(event.jobId);
    if (entry) entry.events.push(event);
    else this.recent.set(event.jobId, { at: now, events: [event] });
  }

  /** Hands the job's events to `onEvent`, those already in first, until unfollowed. */
  private follow(jobId: string, onEvent: (event: McpJobEvent) => void): () => void {
    const earlier = this.recent.get(jobId)?.events ?? [];
    this.recent.delete(jobId);
    let followers = this.followers.get(jobId);
    if (!followers) this.followers.set(jobId, (followers = new Set()));
    followers.add(onEvent);
    for (const event of earlier) onEvent(event);
    return () => {
      followers.delete(onEvent);
      if (followers.size === 0 && this.followers.get(jobId) === followers) {
        this.followers.delete(jobId);
      }
    };
  }

  private async callTool(
    request: CallToolRequest,
    extra: Extra,
  ): Promise<CallToolResult | CreateTaskResult> {
    const { name, arguments: args } = request.params;
    if (request.params.task) {
      if (!this.deps.kinds.has(name)) {
        throw new McpError(ErrorCode.InvalidParams, `tool ${name} cannot run as a task`);
      }
      const task = await extra.taskStore!.createTask({ ttl: request.params.task.ttl });
      const token = request.params._meta?.progressToken;
      this.followTask(task.taskId, token);
      return { task };
    }
    try {
      if (name === GET_JOB)
        return jobAnswer(await this.deps.jobs.get(this.userId, jobIdArgument(args)));
      if (name === CANCEL_JOB) {
        return jobAnswer(await this.deps.jobs.cancel(this.userId, jobIdArgument(args)));
      }
      if (name === SEARCH_CODE) {
        return await searchCode(this.deps.search, this.userId, args);
      }
      const kind = this.deps.kinds.get(name);
      if (kind === undefined) throw new McpError(ErrorCode.InvalidParams, `unknown tool ${name}`);
      return await this.runJob(kind, args, extra);
    } catch (error) {
      if (error instanceof HttpException) return refusal(error.getStatus(), error.message);
      throw error;
    }
  }

  /** The JSON-RPC request id, per session, is the idempotency key: a repeated call is one job. */
  private async submit(
    kind: string,
    args: CallToolRequest['params']['arguments'],
    requestId: RequestId,
  ): Promise<Job> {
    const raw = String(requestId);
    const body = await submitBody(args, raw.slice(0, 200));
    const key = `mcp:${this.id}:${createHash('sha256').update(raw).digest('base64url')}`;
    return (await this.deps.jobs.submit(this.userId, kind, body, key)).job;
  }

  private async submitForTask(request: Request, requestId: RequestId): Promise<Job> {
    const params = request.params as CallToolRequest['params'];
    const kind = this.deps.kinds.get(params.name);
    if (kind === undefined)
      throw new McpError(ErrorCode.InvalidParams, `unknown tool ${params.name}`);
    try {
      return await this.submit(kind, params.arguments, requestId);
    } catch (error) {
      if (error instanceof HttpException) {
        throw new McpError(
          ErrorCode.InvalidParams,
          `refused (${error.getStatus()}): ${error.message}`,
        );
      }
      throw error;
    }
  }

  /** Submits, relays the job's progress and output on the call's stream, answers when it ends. */
  private async runJob(
    kind: string,
    args: CallToolRequest['params']['arguments'],
    extra: Extra,
  ): Promise<CallToolResult> {
    const job = await this.submit(kind, args, extra.requestId);
    const token = extra._meta?.progressToken;
    const relay = this.relay(job.id, token, (n) => extra.sendNotification(n));
    return new Promise<CallToolResult>((resolve, reject) => {
      // follow() hands over the events that came before it at once: the job may end inside it.
      let ended = false;
      const following: { stop?: () => void } = {};
      const end = () => {
        ended = true;
        following.stop?.();
        extra.signal.removeEventListener('abort', onAbort);
      };
      const finish = () => {
        if (ended) return;
        end();
        relay.sent
          .then(() => this.deps.jobs.get(this.userId, job.id))
          .then((last) => resolve(jobOutcome(last)), reject);
      };
      const onAbort = () => {
        if (ended) return;
        end();
        // notifications/cancelled cancels the job; a session that ends leaves it running.
        if (!this.closing) {
          this.deps.jobs.cancel(this.userId, job.id).catch((error: Error) => {
            this.deps.logger.warn(`mcp: job ${job.id} not cancelled: ${error.message}`);
          });
        }
        // Not sent: the SDK answers nothing to a cancelled request.
        resolve(refusal(499, 'the call was cancelled'));
      };
      extra.signal.addEventListener('abort', onAbort, { once: true });
      following.stop = this.follow(job.id, (event) => {
        relay.offer(event);
        if (isTerminal(event.status)) finish();
      });
      if (ended) following.stop();
      else if (extra.signal.aborted) onAbort();
      else if (isTerminal(job.status)) finish();
    });
  }

  /** A task's progress and status go on the standalone stream: its call has already answered. */
  private followTask(jobId: string, token: ProgressToken | undefined): void {
    const relay = this.relay(jobId, token, (n) => this.server.notification(n));
    let ended = false;
    const following: { stop?: () => void } = {};
    following.stop = this.follow(jobId, (event) => {
      relay.offer(event);
      if (ended || !isTerminal(event.status)) return;
      ended = true;
      following.stop?.();
      void relay.sent
        .then(() => this.taskStore.getTask(jobId))
        .then(
          (task) =>
            task &&
            this.server.notification({ method: 'notifications/tasks/status', params: task }),
        )
        .catch((error: Error) => this.deps.logger.warn(`mcp task ${jobId}: ${error.message}`));
    });
    if (ended) following.stop();
  }

  /**
   * Progress notifications (when the request carried a progressToken) and the streamed output
   * as logging notifications, sent one after the other in the job's event order.
   */
  private relay(
    jobId: string,
    token: ProgressToken | undefined,
    send: Send,
  ): { offer(event: McpJobEvent): void; sent: Promise<void> } {
    const tracker = new ProgressTracker();
    const state = {
      sent: Promise.resolve(),
      offer: (event: McpJobEvent) => {
        const output = this.sendsOutput ? outputOf(event) : null;
        const progress = token === undefined ? null : tracker.next(event);
        const queue = (notification: ServerNotification) => {
          state.sent = state.sent
            .then(() => send(notification))
            .catch((error: Error) => this.deps.logger.warn(`mcp job ${jobId}: ${error.message}`));
        };
        if (output !== null) {
          queue({
            method: 'notifications/message',
            params: { level: 'info', logger: 'conveyor.output', data: { jobId, output } },
          });
        }
        if (progress !== null && token !== undefined) {
          queue({
            method: 'notifications/progress',
            params: { progressToken: token, ...progress },
          });
        }
      },
    };
    return state;
  }
}
