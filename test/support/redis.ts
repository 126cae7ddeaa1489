import { randomBytes } from 'node:crypto';
import Redis, { Cluster } from 'ioredis';

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Set by a cluster-tier file (useTestCluster): its stacks and clients then run on that cluster. */
let clusterNodes: string | undefined;

/** From now on in this test file, stacks, clients and clean-up use this cluster. */
export function useTestCluster(nodeList: string | undefined): void {
  clusterNodes = nodeList;
}

/** What a test's Conveyor is told about Redis: the test Redis, or the tier's cluster. */
export function testRedisEnv(): Record<string, string> {
  return clusterNodes
    ? { REDIS_URL: TEST_REDIS_URL, REDIS_CLUSTER_NODES: clusterNodes }
    : { REDIS_URL: TEST_REDIS_URL };
}

/** A client a test inspects Redis with, on whichever the tier runs. */
export function testRedisClient(): Redis | Cluster {
  if (!clusterNodes) return new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
  const nodes = clusterNodes.split(',').map((entry) => {
    const [host, port] = entry.split(':');
    return { host, port: Number(port) };
  });
  return new Cluster(nodes, { redisOptions: { maxRetriesPerRequest: 1 } });
}

export function uniquePrefix(label: string): string {
  return `t-${label}-${randomBytes(4).toString('hex')}`;
}

/** Deletes every key under the prefix (queues, limits) once a test file is done. */
export async function dropPrefix(prefix: string, url = TEST_REDIS_URL): Promise<void> {
  if (clusterNodes && url === TEST_REDIS_URL) {
    const cluster = testRedisClient() as Cluster;
    try {
      await new Promise<void>((resolve) => cluster.once('ready', resolve));
      // Test clean-up only: each master holds its own part of the prefix's keys.
      for (const node of cluster.nodes('master')) await dropOn(node, prefix, true);
    } finally {
      cluster.disconnect();
    }
    return;
  }
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    await dropOn(redis, prefix, false);
  } finally {
    redis.disconnect();
  }
}

async function dropOn(redis: Redis, prefix: string, oneByOne: boolean): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length === 0) continue;
    // A multi-key DEL on a cluster node must stay in one slot.
    if (oneByOne) await Promise.all(keys.map((key) => redis.del(key)));
    else await redis.del(...keys);
  } while (cursor !== '0');
}
