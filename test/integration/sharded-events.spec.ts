import Redis from 'ioredis';
import { EVENT_BUCKETS, JobEventBus, eventBucketOf } from '../../src/core/job-event-bus';
import type { StoredEvent } from '../../src/core/job.repository';
import {
  onResubscribed,
  openRedis,
  type RedisClient,
  type RedisTarget,
} from '../../src/redis/redis-connection';
import type { RedisService } from '../../src/redis/redis.service';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis';
import { RedisCluster } from '../support/redis-cluster';
import { waitFor } from '../support/wait';

/** A user whose events fall in each bucket. */
const USERS = (() => {
  const users = new Map<number, string>();
  for (let i = 0; users.size < EVENT_BUCKETS; i++) {
    const bucket = eventBucketOf(`user-${i}`);
    if (!users.has(bucket)) users.set(bucket, `user-${i}`);
  }
  return [...users.values()];
})();

let nextId = 1n;
function stored(userId: string): StoredEvent {
  const id = nextId++;
  return {
    ...{ id, jobId: `job-${userId}`, userId, kind: 'echo', status: 'progress', progress: 0 },
    ...{ message: null, result: null, error: null, output: null, parentId: null },
    ...{ createdAt: new Date(), previousEventId: null },
  };
}

interface Harness {
  bus: JobEventBus;
  command: RedisClient;
  subscriber: RedisClient;
  received: Set<string>;
  resubscribed: () => number;
}

async function harness(target: RedisTarget, prefix: string): Promise<Harness> {
  const command = openRedis(target, 'command', `${prefix}-command`);
  const subscriber = openRedis(target, 'sharded', `${prefix}-events`);
  for (const connection of [command, subscriber]) connection.on('error', () => undefined);
  const redis = { key: (...parts: string[]) => [prefix, ...parts].join(':'), client: command };
  const bus = new JobEventBus(redis as unknown as RedisService);
  let resubscribed = 0;
  onResubscribed(subscriber, () => resubscribed++);
  const received = new Set<string>();
  await bus.subscribe(subscriber, (events) => events.forEach((e) => received.add(e.eventId)));
  return { bus, command, subscriber, received, resubscribed: () => resubscribed };
}

/** Publishes one event in every bucket and waits until the subscriber has heard them all. */
async function roundTrip(h: Harness, what: string): Promise<void> {
  const events = USERS.map(stored);
  await waitFor(what, async () => {
    // A publish made before the resubscription lands is lost: publish again until heard.
    const missing = events.filter((e) => !h.received.has(e.id.toString()));
    await Promise.all(missing.map((e) => h.bus.publish(e)));
    return events.every((e) => h.received.has(e.id.toString()));
  });
}

async function close(h: Harness | undefined): Promise<void> {
  for (const connection of [h?.command, h?.subscriber]) {
    if (!connection || connection.status === 'end') continue;
    const ended = new Promise((resolve) => connection.once('end', resolve));
    connection.disconnect();
    await ended;
  }
}

describe('job events on sharded channels', () => {
  it('reach a sharded subscriber on one Redis, and again after its connection is killed', async () => {
    const prefix = uniquePrefix('sharded-one');
    const target = { redisUrl: TEST_REDIS_URL, redisCluster: null };
    const admin = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
    let h: Harness | undefined;
    try {
      h = await harness(target, prefix);
      await roundTrip(h, 'every bucket heard');
      const clients = String(await admin.call('CLIENT', 'LIST'));
      const line = clients.split('\n').find((l) => l.includes(`name=conveyor-${prefix}-events `));
      const id = /\bid=(\d+)/.exec(line ?? '')?.[1];
      expect(id).toBeDefined();
      const before = h.resubscribed();
      await admin.call('CLIENT', 'KILL', 'ID', id as string);
      const current = h;
      await waitFor('the resubscription', () => Promise.resolve(current.resubscribed() > before));
      await roundTrip(h, 'every bucket heard after the reconnect');
    } finally {
      await close(h);
      admin.disconnect();
    }
  });

  describe('on a Redis Cluster of three masters', () => {
    let cluster: RedisCluster;
    let ports: number[];

    beforeAll(async () => {
      cluster = await RedisCluster.start({ replicasPerMaster: 0 });
      ports = await cluster.masterPorts();
    });

    afterAll(async () => {
      await cluster?.stop();
    });

    it("reach a subscriber on every node, and again after one shard's subscriber is killed", async () => {
      const prefix = uniquePrefix('sharded-cluster');
      const target = {
        redisUrl: TEST_REDIS_URL,
        redisCluster: { nodes: [{ host: '127.0.0.1', port: ports[0] }], tls: false },
      };
      const admin = new Redis(ports[1], '127.0.0.1', { maxRetriesPerRequest: 1 });
      let h: Harness | undefined;
      try {
        h = await harness(target, prefix);
        await roundTrip(h, 'every bucket heard');
        // Each master carries some of the buckets: this one's subscriber holds channels.
        const killed = Number(await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub'));
        expect(killed).toBeGreaterThan(0);
        const before = h.resubscribed();
        const current = h;
        await waitFor('the resubscription', () => Promise.resolve(current.resubscribed() > before));
        await roundTrip(h, 'every bucket heard after the reconnect');
      } finally {
        await close(h);
        admin.disconnect();
      }
    });
  });
});
