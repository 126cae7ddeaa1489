import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import Redis from 'ioredis';
import { Api, uniqueUser } from '../support/api';
import { startStack, type TestStack } from '../support/app';
import { waitForTerminal } from '../support/realtime';
import { dropPrefix, uniquePrefix, useTestCluster } from '../support/redis';
import { RedisCluster } from '../support/redis-cluster';
import { baseUrl, connectSocket } from '../support/socket';
import { echoKind } from '../support/test-kinds';

/** The access string docs/redis-cluster.md gives for a managed service's user, for this prefix. */
const rules = (prefix: string) => [
  `~${prefix}:*`,
  `&${prefix}:*`,
  // PSUBSCRIBE needs its pattern granted literally, not matched by a wider one.
  `&${prefix}:stream:*`,
  '+@all',
  '-@dangerous',
  '+info',
  '+cluster|info',
  '+cluster|slots',
  '+cluster|nodes',
  '+client|setname',
  '+client|getname',
];

describe('Conveyor on a Redis Cluster as an ACL user limited to its prefix', () => {
  let cluster: RedisCluster;
  let stack: TestStack;
  const password = randomBytes(12).toString('hex');
  const prefix = uniquePrefix('cluster-acl');

  beforeAll(async () => {
    cluster = await RedisCluster.start();
    for (const { port } of cluster.nodes) {
      const node = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 });
      try {
        await node.call(
          'ACL',
          'SETUSER',
          'conveyor',
          'reset',
          'on',
          `>${password}`,
          ...rules(prefix),
        );
      } finally {
        node.disconnect();
      }
    }
    useTestCluster(cluster.nodeList);
    const [first, ...rest] = cluster.nodeList.split(',');
    stack = await startStack('cluster-acl', [echoKind], {
      REDIS_CLUSTER_NODES: [`redis://conveyor:${password}@${first}`, ...rest].join(','),
      QUEUE_PREFIX: prefix,
    });
  });

  afterAll(async () => {
    await stack?.close();
    await dropPrefix(prefix);
    await cluster?.stop();
  });

  it("runs jobs to done and delivers their events live to the owner's socket", async () => {
    const api = new Api(stack, uniqueUser('acl'));
    const socket = await connectSocket(baseUrl(stack.app.getHttpServer() as Server), {
      token: api.auth.replace(/^Bearer /, ''),
    });
    try {
      const jobs = await Promise.all(
        Array.from({ length: 6 }, (_, i) => api.submitOk('echo', { text: `acl ${i}`, steps: 2 })),
      );
      const ids = jobs.map((job) => job.id);
      await waitForTerminal(socket, ids);
      for (const id of ids) {
        expect(await api.job(id)).toMatchObject({ status: 'done' });
        const live = socket.events.filter((e) => e.jobId === id).map((e) => e.eventId);
        expect(live).toEqual((await api.allEvents(id)).map((e) => e.eventId));
      }
    } finally {
      socket.close();
    }
  });

  it('is refused a key outside its prefix (the rule the test relies on holds)', async () => {
    const [port] = await cluster.masterPorts();
    const as = new Redis(port, '127.0.0.1', {
      username: 'conveyor',
      password,
      maxRetriesPerRequest: 1,
    });
    try {
      await expect(as.set('{x}outside', '1')).rejects.toThrow(/NOPERM|MOVED/);
      await expect(as.publish('outside', '1')).rejects.toThrow(/NOPERM/);
    } finally {
      as.disconnect();
    }
  });
});
