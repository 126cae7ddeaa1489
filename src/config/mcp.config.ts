import { ConfigError, int, list, type Env } from './env-readers';

/** The MCP endpoint (docs/mcp.md). */
export interface McpConfig {
  /** Host header names /mcp answers to (DNS rebinding); null: any host. */
  allowedHosts: string[] | null;
  /** Browser origins allowed besides those on an allowed host. */
  allowedOrigins: string[];
  /** How long a session's SSE events stay resumable (Last-Event-ID). */
  eventTtlSec: number;
  /** A session with no request and no call running for this long is closed. */
  sessionIdleSec: number;
  /** A task's TTL when the client asks for none, and the most it may ask for. */
  taskTtlDefaultMs: number;
  taskTtlMaxMs: number;
  /** The pollInterval tasks suggest. */
  taskPollIntervalMs: number;
}

const HOST = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)$/;

function isOrigin(value: string): boolean {
  try {
    return new URL(value).origin === value;
  } catch {
    return false;
  }
}

export function parseMcpConfig(env: Env): McpConfig {
  const hosts = list(env, 'MCP_ALLOWED_HOSTS', ['localhost', '127.0.0.1', '[::1]'], {
    entry: (host) => host === '*' || HOST.test(host),
    what: 'a host name',
  });
  const anyHost = hosts.includes('*');
  const origins = list(env, 'MCP_ALLOWED_ORIGINS', [], {
    entry: isOrigin,
    what: 'an origin (scheme://host[:port])',
  });
  const taskTtlMaxMs = int(env, 'MCP_TASK_TTL_MAX_MS', 86_400_000, 1000, 30 * 86_400_000);
  const taskTtlDefaultMs = int(env, 'MCP_TASK_TTL_MS', 3_600_000, 1000, 30 * 86_400_000);
  if (taskTtlDefaultMs > taskTtlMaxMs) {
    throw new ConfigError(
      'MCP_TASK_TTL_MS',
      `must not exceed MCP_TASK_TTL_MAX_MS (${taskTtlMaxMs})`,
    );
  }
  return {
    allowedHosts: anyHost ? null : hosts.map((host) => host.toLowerCase()),
    allowedOrigins: origins,
    eventTtlSec: int(env, 'MCP_EVENT_TTL_SEC', 3600, 10, 7 * 86_400),
    sessionIdleSec: int(env, 'MCP_SESSION_IDLE_SEC', 1800, 10, 7 * 86_400),
    taskTtlDefaultMs,
    taskTtlMaxMs,
    taskPollIntervalMs: int(env, 'MCP_TASK_POLL_INTERVAL_MS', 1000, 50, 600_000),
  };
}
