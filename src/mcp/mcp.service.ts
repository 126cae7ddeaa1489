import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { isInitializeRequest, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { InvalidTokenError, JwtService, type AuthUser } from '../auth/jwt.service';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { JobRegistry } from '../core/job-registry';
import { JobRepository } from '../core/job.repository';
import { JobService } from '../core/job.service';
import type { RequestWithBody } from '../http/json-body';
import { sendError } from '../http/raw-response';
import { JobEventListeners } from '../realtime/job-event-listeners';
import { RedisService } from '../redis/redis.service';
import { CodeSearchService } from '../search/code-search.service';
import { McpSession } from './mcp-session';
import { buildTools } from './mcp-tools';
import { RedisEventStore } from './redis-event-store';

class McpHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** `host:port`, `[::1]:port` → the host name, lower-cased. */
function hostName(header: string): string {
  const bracketed = /^(\[[^\]]+\])(:\d+)?$/.exec(header);
  if (bracketed) return bracketed[1].toLowerCase();
  return header.replace(/:\d+$/, '').toLowerCase();
}

/**
 * /mcp over the SDK's Streamable HTTP transport (docs/mcp.md): stateful sessions kept on this
 * instance, each bound to the user whose Bearer token opened it; every request must carry a
 * valid token of that same user. Host and Origin are checked first (DNS rebinding).
 */
@Injectable()
export class McpService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(McpService.name);
  private readonly sessions = new Map<string, McpSession>();
  private tools: Tool[] = [];
  private kinds = new Map<string, string>();
  private sweeper?: NodeJS.Timeout;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly jwt: JwtService,
    private readonly registry: JobRegistry,
    private readonly jobs: JobService,
    private readonly events: JobRepository,
    private readonly listeners: JobEventListeners,
    private readonly redis: RedisService,
    private readonly search: CodeSearchService,
  ) {}

  onApplicationBootstrap(): void {
    ({ tools: this.tools, kinds: this.kinds } = buildTools(this.registry));
    const idleMs = this.config.mcp.sessionIdleSec * 1000;
    this.sweeper = setInterval(() => this.closeIdle(idleMs), Math.min(60_000, idleMs / 2));
    this.sweeper.unref();
  }

  /** Sessions hold SSE streams open: they end before the HTTP server waits for its connections. */
  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.sweeper);
    await Promise.all([...this.sessions.values()].map((session) => session.close()));
  }

  async handle(req: RequestWithBody, res: ServerResponse): Promise<void> {
    try {
      this.checkHostAndOrigin(req);
      const user = this.authenticate(req);
      const body: unknown = req.body;
      const sessionId = req.headers['mcp-session-id'];
      let session: McpSession;
      if (typeof sessionId === 'string') {
        const found = this.sessions.get(sessionId);
        // Another user's session is as unknown as one that never was.
        if (!found || found.userId !== user.id) throw new McpHttpError(404, 'session not found');
        session = found;
      } else if (req.method === 'POST' && isInitializeRequest(body)) {
        session = await this.open(user);
      } else {
        throw new McpHttpError(
          400,
          'mcp-session-id header is required; start a session with an initialize request',
        );
      }
      const lastEventId = req.headers['last-event-id'];
      if (lastEventId !== undefined && !RedisEventStore.isEventId(String(lastEventId))) {
        throw new McpHttpError(400, 'Last-Event-ID is not an event id this server sent');
      }
      session.openRequests += 1;
      session.lastSeen = Date.now();
      res.once('close', () => {
        session.openRequests -= 1;
        session.lastSeen = Date.now();
      });
      await session.transport.handleRequest(req, res, body);
      if (session.transport.sessionId === undefined) await session.close();
    } catch (error) {
      if (res.headersSent) {
        this.logger.warn(`mcp: ${(error as Error).message}`);
        return;
      }
      const status = error instanceof McpHttpError ? error.status : 500;
      if (status === 500) this.logger.error(`mcp: ${(error as Error).message}`);
      if (status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="conveyor"');
      sendError(req, res, status, status === 500 ? 'internal error' : (error as Error).message);
    }
  }

  private async open(user: AuthUser): Promise<McpSession> {
    const id = randomUUID();
    const session = new McpSession(
      id,
      user.id,
      {
        config: this.config.mcp,
        jobs: this.jobs,
        events: this.events,
        listeners: this.listeners,
        redis: this.redis.client,
        keyPrefix: this.redis.key('mcp'),
        tools: this.tools,
        kinds: this.kinds,
        search: this.search,
        logger: this.logger,
      },
      () => this.sessions.delete(id),
    );
    await session.start();
    this.sessions.set(id, session);
    return session;
  }

  private authenticate(req: RequestWithBody): AuthUser {
    const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (!match?.[1]) {
      throw new McpHttpError(401, 'Authorization header with a Bearer token is required');
    }
    try {
      return this.jwt.verify(match[1]);
    } catch (error) {
      if (error instanceof InvalidTokenError) throw new McpHttpError(401, error.message);
      throw error;
    }
  }

  private checkHostAndOrigin(req: RequestWithBody): void {
    const { allowedHosts, allowedOrigins } = this.config.mcp;
    const host = req.headers.host;
    if (allowedHosts !== null && (!host || !allowedHosts.includes(hostName(host)))) {
      throw new McpHttpError(403, `host ${host ?? '(none)'} is not allowed (MCP_ALLOWED_HOSTS)`);
    }
    const origin = req.headers.origin;
    if (origin === undefined || allowedOrigins.includes(origin)) return;
    let originHost: string | null;
    try {
      originHost = new URL(origin).host;
    } catch {
      originHost = null;
    }
    const onAllowedHost =
      originHost !== null && allowedHosts !== null && allowedHosts.includes(hostName(originHost));
    if (!onAllowedHost && (allowedHosts !== null || allowedOrigins.length > 0)) {
      throw new McpHttpError(403, `origin ${origin} is not allowed (MCP_ALLOWED_ORIGINS)`);
    }
  }

  private closeIdle(idleMs: number): void {
    const now = Date.now();
    for (const session of this.sessions.values()) {
      if (session.openRequests === 0 && now - session.lastSeen > idleMs) {
        this.logger.log(`mcp session ${session.id} closed after ${idleMs / 1000} s idle`);
        void session.close();
      }
    }
  }
}
