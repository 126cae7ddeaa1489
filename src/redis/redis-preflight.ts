import Redis from 'ioredis';
import { describeRedisUrl, redisOptionsFromUrl } from './redis-options';

/** Fails within seconds, with one line, when Redis does not answer at start-up. */
export async function assertRedisAnswers(url: string, timeoutMs = 3000): Promise<void> {
  const client = new Redis({
    ...redisOptionsFromUrl(url),
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    throw new Error(
      `Redis is not answering at ${describeRedisUrl(url)} (REDIS_URL; ${(error as Error).message}): ` +
        'start one with "redis-server --daemonize yes" or "docker compose up -d redis"',
    );
  } finally {
    client.disconnect();
  }
}
