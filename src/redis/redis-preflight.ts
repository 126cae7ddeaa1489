import type { RedisOptions } from 'ioredis';
import type { RedisNodeAddress } from '../config/redis.config';
import { openProbe, type RedisTarget } from './redis-connection';
import { describeRedisUrl, redisOptionsFromUrl } from './redis-options';

/**
 * Fails within seconds, with one line, when Redis does not answer at start-up, when a cluster's
 * state is not ok, or when the configuration names one kind of Redis and finds the other.
 */
export async function assertRedisAnswers(target: RedisTarget, timeoutMs = 3000): Promise<void> {
  const cluster = target.redisCluster;
  if (!cluster) {
    const info = await clusterInfoOf(redisOptionsFromUrl(target.redisUrl), timeoutMs).catch(
      (error: Error) => {
        throw new Error(
          `Redis is not answering at ${describeRedisUrl(target.redisUrl)} (REDIS_URL; ${error.message}): ` +
            'start one with "redis-server --daemonize yes" or "docker compose up -d redis"',
        );
      },
    );
    if (info.enabled) {
      throw new Error(
        `Redis at ${describeRedisUrl(target.redisUrl)} is a cluster node: list the cluster's nodes in REDIS_CLUSTER_NODES`,
      );
    }
    return;
  }
  const access: RedisOptions = {
    ...(cluster.username && { username: cluster.username }),
    ...(cluster.password && { password: cluster.password }),
    ...(cluster.tls && { tls: {} }),
  };
  const failures: string[] = [];
  for (const node of cluster.nodes) {
    try {
      const info = await clusterInfoOf({ ...access, host: node.host, port: node.port }, timeoutMs);
      if (!info.enabled) {
        throw new Error(
          `Redis at ${where(node)} is not in cluster mode (REDIS_CLUSTER_NODES): use REDIS_URL for a single Redis`,
        );
      }
      if (info.state !== 'ok') {
        throw new Error(
          `Redis Cluster at ${where(node)} reports cluster_state:${info.state} (REDIS_CLUSTER_NODES): ` +
            'wait until every slot is served, or fix the cluster (redis-cli --cluster check)',
        );
      }
      return;
    } catch (error) {
      if (!(error instanceof NodeUnreachable)) throw error;
      failures.push(`${where(node)}: ${error.message}`);
    }
  }
  throw new Error(
    `Redis Cluster is not answering at any node of REDIS_CLUSTER_NODES (${failures.join('; ')})`,
  );
}

class NodeUnreachable extends Error {}

interface ClusterInfo {
  enabled: boolean;
  state: string;
}

async function clusterInfoOf(options: RedisOptions, timeoutMs: number): Promise<ClusterInfo> {
  const client = openProbe(options, timeoutMs);
  try {
    try {
      await client.connect();
      await client.ping();
    } catch (error) {
      throw new NodeUnreachable((error as Error).message);
    }
    const info = await client.info('cluster');
    if (!/cluster_enabled:1/.test(info)) return { enabled: false, state: 'disabled' };
    const state = /cluster_state:(\w+)/.exec(await client.cluster('INFO'))?.[1] ?? 'unknown';
    return { enabled: true, state };
  } finally {
    client.disconnect();
  }
}

function where(node: RedisNodeAddress): string {
  return `${node.host}:${node.port}`;
}
