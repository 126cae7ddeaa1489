import Redis, { Cluster } from 'ioredis';
import { RedisCluster, clusterSlotOf } from '../support/redis-cluster';
import { uniquePrefix } from '../support/redis';

const STEP_MS = 15_000;

function clusterClient(cluster: RedisCluster, shardedSubscribers = false): Cluster {
  const startupNodes = cluster.nodeList.split(',').map((node) => {
    const [host, port] = node.split(':');
    return { host, port: Number(port) };
  });
  return new Cluster(startupNodes, { shardedSubscribers });
}

/** Settles with the handler's value, or fails once the bound passes. */
function within<T>(what: string, ms: number, run: (done: (value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    run((value) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

/** Keys under the prefix, the first found for each master (tags chosen so each lands elsewhere). */
async function keyPerMaster(cluster: RedisCluster, prefix: string): Promise<Map<number, string>> {
  const masters = await cluster.masterPorts();
  const found = new Map<number, string>();
  for (let i = 0; i < 1000 && found.size < masters.length; i++) {
    const key = `${prefix}:{tag-${i}}:value`;
    const master = await cluster.masterOfSlot(clusterSlotOf(key));
    if (!found.has(master)) found.set(master, key);
  }
  return found;
}

describe('RedisCluster harness', () => {
  const prefix = uniquePrefix('cluster-harness');
  let cluster: RedisCluster;
  let client: Cluster;

  beforeAll(async () => {
    cluster = await RedisCluster.start();
    client = clusterClient(cluster);
  }, 60_000);

  afterAll(async () => {
    client?.disconnect();
    await cluster?.stop();
  });

  it('starts three masters and three replicas, listed for REDIS_CLUSTER_NODES', async () => {
    expect(cluster.nodes).toHaveLength(6);
    expect(cluster.nodeList.split(',')).toEqual(
      cluster.nodes.map((node) => `127.0.0.1:${node.port}`),
    );
    expect(await cluster.masterPorts()).toHaveLength(3);
  });

  it(
    'stores keys with different hash tags on different masters',
    async () => {
      const keys = await keyPerMaster(cluster, prefix);
      expect(keys.size).toBeGreaterThanOrEqual(2);
      for (const [master, key] of keys) {
        await client.set(key, `on-${master}`);
        expect(await client.get(key)).toBe(`on-${master}`);
        const direct = new Redis({ host: '127.0.0.1', port: master, maxRetriesPerRequest: 1 });
        try {
          expect(await direct.get(key)).toBe(`on-${master}`);
        } finally {
          direct.disconnect();
        }
      }
    },
    STEP_MS,
  );

  it(
    'delivers SPUBLISH to SSUBSCRIBE on two channels in slots of different masters',
    async () => {
      const channels = [...(await keyPerMaster(cluster, `${prefix}:channel`)).values()].slice(0, 2);
      expect(new Set(channels.map(clusterSlotOf)).size).toBe(2);
      const subscriber = clusterClient(cluster, true);
      const publisher = clusterClient(cluster, true);
      try {
        const received = new Map<string, string>();
        const allReceived = within<void>('smessage on both channels', 10_000, (done) => {
          subscriber.on('smessage', (channel: string, message: string) => {
            received.set(channel, message);
            if (channels.every((c) => received.has(c))) done();
          });
        });
        for (const channel of channels) await subscriber.ssubscribe(channel);
        for (const channel of channels) await publisher.spublish(channel, `to ${channel}`);
        await allReceived;
        expect(Object.fromEntries(received)).toEqual(
          Object.fromEntries(channels.map((channel) => [channel, `to ${channel}`])),
        );
      } finally {
        subscriber.disconnect();
        publisher.disconnect();
      }
    },
    STEP_MS,
  );

  it('promotes the replica when the master of a slot is SIGKILLed, and the key is served again', async () => {
    const key = `${prefix}:{failover}:value`;
    const slot = clusterSlotOf(key);
    const master = await cluster.masterOfSlot(slot);
    const direct = new Redis({ host: '127.0.0.1', port: master, maxRetriesPerRequest: 1 });
    try {
      await direct.set(key, 'before');
      // The replica holds the write before its master dies, so it must survive the failover.
      expect(await direct.call('WAIT', '1', '5000')).toBe(1);
    } finally {
      direct.disconnect();
    }

    await cluster.killNode(master);
    const { newMasterPort } = await cluster.waitForFailover(master, 20_000);

    expect(newMasterPort).not.toBe(master);
    expect(await cluster.masterOfSlot(slot)).toBe(newMasterPort);
    expect(await client.get(key)).toBe('before');
    await client.set(key, 'after');
    expect(await client.get(key)).toBe('after');
  }, 40_000);
});
