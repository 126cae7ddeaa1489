import { ConfigError, raw, url, type Env } from './env-readers';

export interface RedisNodeAddress {
  host: string;
  port: number;
}

/** A Redis Cluster to connect to (docs/redis-cluster.md); every node shares the credentials. */
export interface RedisClusterConfig {
  nodes: RedisNodeAddress[];
  username?: string;
  password?: string;
  tls: boolean;
}

export interface RedisConfig {
  redisUrl: string;
  /** Set when REDIS_CLUSTER_NODES is: every connection then goes to the cluster. */
  redisCluster: RedisClusterConfig | null;
}

const HOST_PORT = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

export function parseRedisConfig(env: Env): RedisConfig {
  const redisUrl = url(env, 'REDIS_URL', ['redis:', 'rediss:'], {
    fallback: 'redis://127.0.0.1:6379',
  });
  const listed = raw(env, 'REDIS_CLUSTER_NODES');
  if (listed === undefined) return { redisUrl, redisCluster: null };
  const entries = listed
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.length === 0) {
    throw new ConfigError('REDIS_CLUSTER_NODES', 'must list at least one host:port');
  }
  // Credentials and TLS come from a URL entry, or else from REDIS_URL when it was set.
  let access = raw(env, 'REDIS_URL') === undefined ? undefined : new URL(redisUrl);
  checkDb(access, 'REDIS_URL');
  const nodes = entries.map((entry, index) => {
    if (/^rediss?:\/\//.test(entry)) {
      let parsed: URL;
      try {
        parsed = new URL(entry);
      } catch {
        throw new ConfigError(
          'REDIS_CLUSTER_NODES',
          `entry ${index + 1} must be a URL or host:port`,
        );
      }
      checkDb(parsed, 'REDIS_CLUSTER_NODES');
      if (parsed.username || parsed.password || parsed.protocol === 'rediss:') access = parsed;
      return address(`${parsed.hostname}:${parsed.port || '6379'}`, index);
    }
    return address(entry, index);
  });
  return {
    redisUrl,
    redisCluster: {
      nodes,
      ...(access?.username && { username: decodeURIComponent(access.username) }),
      ...(access?.password && { password: decodeURIComponent(access.password) }),
      tls: access?.protocol === 'rediss:',
    },
  };
}

function address(entry: string, index: number): RedisNodeAddress {
  const match = HOST_PORT.exec(entry);
  const port = match ? Number(match[2]) : 0;
  if (!match || port < 1 || port > 65535) {
    throw new ConfigError(
      'REDIS_CLUSTER_NODES',
      `must be host:port entries separated by commas (entry ${index + 1} is "${entry.replace(/^.*@/, '…@')}")`,
    );
  }
  return { host: match[1].replace(/^\[|\]$/g, ''), port };
}

/** Redis Cluster has only database 0: another number would be silently ignored by some clients. */
function checkDb(parsed: URL | undefined, variable: string): void {
  const path = parsed?.pathname ?? '';
  if (path.length > 1 && path !== '/0') {
    throw new ConfigError(
      variable,
      `selects database ${path.slice(1)}, but Redis Cluster has only database 0 (drop "${path}")`,
    );
  }
}
