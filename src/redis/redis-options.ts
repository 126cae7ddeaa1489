/** The subset of connection options both ioredis and BullMQ accept as they are. */
export interface RedisConnectionOptions {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  tls?: Record<string, never>;
  enableOfflineQueue?: boolean;
  maxRetriesPerRequest?: number | null;
  enableAutoPipelining?: boolean;
}

/** ioredis options from a redis:// or rediss:// URL (BullMQ takes options, not URLs). */
export function redisOptionsFromUrl(url: string): RedisConnectionOptions {
  const parsed = new URL(url);
  const db = parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0;
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    port: parsed.port ? Number(parsed.port) : 6379,
    ...(parsed.username && { username: decodeURIComponent(parsed.username) }),
    ...(parsed.password && { password: decodeURIComponent(parsed.password) }),
    db: Number.isInteger(db) ? db : 0,
    ...(parsed.protocol === 'rediss:' && { tls: {} }),
  };
}

/** Where Redis was looked for, without credentials. */
export function describeRedisUrl(url: string): string {
  const { host, port, db } = redisOptionsFromUrl(url);
  return `${host}:${port}${db ? `/${db}` : ''}`;
}

/**
 * Requests fail fast while Redis is away instead of queueing forever, so an API call answers
 * 503 rather than hanging. Workers use blocking connections and must wait instead.
 */
export function producerOptions(url: string): RedisConnectionOptions {
  return { ...redisOptionsFromUrl(url), enableOfflineQueue: false, maxRetriesPerRequest: 1 };
}

export function workerOptions(url: string): RedisConnectionOptions {
  return { ...redisOptionsFromUrl(url), maxRetriesPerRequest: null };
}
