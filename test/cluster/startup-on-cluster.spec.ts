import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { TEST_JWT_SECRET } from '../support/app';
import {
  expectOneLineRefusal,
  killAllConveyors,
  spawnConveyor,
  startConveyor,
} from '../support/conveyor-process';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { freePort } from '../support/ports';
import { dropPrefix, TEST_REDIS_URL, uniquePrefix, useTestCluster } from '../support/redis';
import { RedisCluster } from '../support/redis-cluster';
import { redisServerReady, spawnRedisServer } from '../support/redis-server';

const EXIT_BOUND_MS = 30_000;

/** A lone node in cluster mode with no slots assigned: its cluster_state is "fail". */
async function startSlotlessNode(dir: string): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const server = spawnRedisServer([
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--cluster-enabled',
    'yes',
    '--cluster-config-file',
    join(dir, `nodes-${port}.conf`),
    '--dir',
    dir,
  ]);
  await redisServerReady(server, `the slotless cluster node ${port}`);
  return { port, child: server.child };
}

describe('start-up against a Redis Cluster', () => {
  let db: TestDatabase;
  let cluster: RedisCluster;
  let dir: string;
  let lone: { port: number; child: ChildProcess } | undefined;
  const prefix = uniquePrefix('cluster-startup');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'conveyor-cluster-startup-'));
    [db, cluster, lone] = await Promise.all([
      createTestDatabase(),
      RedisCluster.start(),
      startSlotlessNode(dir),
    ]);
    useTestCluster(cluster.nodeList);
  });

  afterAll(async () => {
    await killAllConveyors();
    await dropPrefix(prefix);
    await cluster?.stop();
    if (lone && lone.child.exitCode === null) {
      lone.child.kill('SIGKILL');
      await once(lone.child, 'close');
    }
    await db?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  const baseEnv = (): Record<string, string> => ({
    DATABASE_URL: db.url,
    QUEUE_PREFIX: prefix,
    JWT_SECRET: TEST_JWT_SECRET,
    LOG_LEVEL: 'info',
    PORT: '0',
  });

  async function refusal(label: string, env: Record<string, string>): Promise<string> {
    const proc = spawnConveyor(label, { ...baseEnv(), ...env });
    const line = await expectOneLineRefusal(proc, EXIT_BOUND_MS);
    expect(proc.stdout).not.toMatch(/ready/);
    return line;
  }

  it('starts on the cluster named by REDIS_CLUSTER_NODES and serves HTTP', async () => {
    const { proc, ready } = await startConveyor('on-cluster', {
      ...baseEnv(),
      REDIS_CLUSTER_NODES: cluster.nodeList,
    });
    expect(ready.role).toBe('all');
    const res = await fetch(`http://127.0.0.1:${ready.port}/health/ready`);
    expect({ status: res.status, body: await res.json() }).toMatchObject({
      status: 200,
      body: { checks: { redis: 'up', database: 'up' } },
    });
    proc.signal('SIGTERM');
    await proc.waitForExit(EXIT_BOUND_MS);
  });

  it('refuses a cluster whose cluster_state is not ok, with one line', async () => {
    const line = await refusal('cluster-fail', {
      REDIS_CLUSTER_NODES: `127.0.0.1:${lone!.port}`,
    });
    expect(line).toContain(`127.0.0.1:${lone!.port}`);
    expect(line).toMatch(/cluster_state:fail/);
    expect(line).toMatch(/REDIS_CLUSTER_NODES/);
  });

  it('refuses a database number other than 0 on a cluster, naming the variable', async () => {
    const line = await refusal('cluster-db', {
      REDIS_URL: 'redis://127.0.0.1:6379/3',
      REDIS_CLUSTER_NODES: cluster.nodeList,
    });
    expect(line).toMatch(/REDIS_URL selects database 3, but Redis Cluster has only database 0/);
  });

  it('refuses a cluster node named as one Redis in REDIS_URL', async () => {
    const [master] = await cluster.masterPorts();
    const line = await refusal('node-as-single', { REDIS_URL: `redis://127.0.0.1:${master}` });
    expect(line).toMatch(/is a cluster node: list the cluster's nodes in REDIS_CLUSTER_NODES/);
  });

  it('refuses one Redis named in REDIS_CLUSTER_NODES', async () => {
    const port = new URL(TEST_REDIS_URL).port || '6379';
    const line = await refusal('single-as-cluster', {
      REDIS_CLUSTER_NODES: `127.0.0.1:${port}`,
    });
    expect(line).toMatch(/is not in cluster mode \(REDIS_CLUSTER_NODES\)/);
  });

  it('says when no node of REDIS_CLUSTER_NODES answers, without the password', async () => {
    const password = `pw-${randomBytes(6).toString('hex')}`;
    const [a, b] = await Promise.all([freePort(), freePort()]);
    const line = await refusal('cluster-absent', {
      REDIS_CLUSTER_NODES: `redis://app:${password}@127.0.0.1:${a},127.0.0.1:${b}`,
    });
    expect(line).toMatch(/Redis Cluster is not answering at any node of REDIS_CLUSTER_NODES/);
    expect(line).toContain(`127.0.0.1:${a}`);
    expect(line).toContain(`127.0.0.1:${b}`);
    expect(line).not.toContain(password);
  });
});
