import Redis, { Cluster, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisClusterConfig } from '../config/redis.config';
import { producerOptions, workerOptions } from './redis-options';

/** One Redis or a Redis Cluster: both answer the commands Conveyor sends. */
export type RedisClient = Redis | Cluster;

/** Where Redis is: the part of the configuration every connection is made from. */
export interface RedisTarget {
  redisUrl: string;
  redisCluster: RedisClusterConfig | null;
}

/**
 * command: requests fail fast while Redis is away, so an API call answers 503 instead of hanging.
 * waiting: subscribers and BullMQ workers, which must wait for Redis instead.
 * sharded: a subscriber to sharded channels (on a cluster, one connection per shard it needs).
 */
export type ConnectionRole = 'command' | 'waiting' | 'sharded';

/** The one way a connection to Redis is opened (docs/redis-cluster.md). */
export function openRedis(target: RedisTarget, role: ConnectionRole, name: string): RedisClient {
  const connectionName = `conveyor-${name}`;
  const cluster = target.redisCluster;
  if (!cluster) {
    const base =
      role === 'command' ? producerOptions(target.redisUrl) : workerOptions(target.redisUrl);
    return new Redis({
      ...base,
      connectionName,
      ...(role === 'command' && { enableAutoPipelining: true }),
    });
  }
  return new Cluster(cluster.nodes, clusterOptions(cluster, role, connectionName));
}

export function clusterOptions(
  cluster: RedisClusterConfig,
  role: ConnectionRole,
  connectionName: string,
): ClusterOptions {
  const redisOptions: RedisOptions = {
    connectionName,
    ...(cluster.username && { username: cluster.username }),
    ...(cluster.password && { password: cluster.password }),
    ...(cluster.tls && { tls: {} }),
    maxRetriesPerRequest: role === 'command' ? 1 : null,
  };
  return {
    redisOptions,
    // Commands wait through a failover's slot refresh instead of failing at once.
    enableOfflineQueue: true,
    enableAutoPipelining: role === 'command',
    shardedSubscribers: role === 'sharded',
    // Managed services announce nodes by hostname under TLS: the certificate names them so.
    ...(cluster.tls && { dnsLookup: (address, callback) => callback(null, address) }),
    slotsRefreshTimeout: 2000,
  };
}

/** A one-shot connection for start-up checks: no retries, no queueing, fails within timeoutMs. */
export function openProbe(options: RedisOptions, timeoutMs: number): Redis {
  const client = new Redis({
    ...options,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined);
  return client;
}

export function isCluster(client: RedisClient): client is Cluster {
  return client instanceof Cluster;
}

/**
 * Calls `listener` each time a subscriber connection is back and subscribed again after being
 * away: on one Redis, every 'ready' after the first (ioredis resubscribes as it gets ready); on
 * a cluster's sharded subscriber, 'subscribersReady', which ioredis emits once it has replaced
 * the shard subscribers that ended or moved and sent their SSUBSCRIBEs again. The cluster emits
 * it at start and on any topology change too: callers must be ones that an extra call only
 * costs a read of what was missed.
 */
export function onResubscribed(connection: RedisClient, listener: () => void): void {
  if (isCluster(connection)) {
    connection.on('subscribersReady', listener);
    return;
  }
  let connectedOnce = connection.status === 'ready';
  connection.on('ready', () => {
    if (connectedOnce) listener();
    connectedOnce = true;
  });
}
