import { Api, uniqueUser } from '../support/api';
import { startStack, type TestStack } from '../support/app';
import { useTestCluster } from '../support/redis';
import { RedisCluster } from '../support/redis-cluster';
import { echoKind } from '../support/test-kinds';

describe('Conveyor on a Redis Cluster (smoke)', () => {
  let cluster: RedisCluster;
  let stack: TestStack;

  beforeAll(async () => {
    cluster = await RedisCluster.start();
    useTestCluster(cluster.nodeList);
    stack = await startStack('cluster-smoke', [echoKind]);
  });

  afterAll(async () => {
    await stack?.close();
    await cluster?.stop();
  });

  it('runs a job to done', async () => {
    const api = new Api(stack, uniqueUser('smoke'));
    const job = await api.submitOk('echo', { text: 'hi', steps: 2 });
    const done = await api.waitForStatus(job.id);
    expect(done).toMatchObject({ status: 'done', result: { text: 'hi' } });
  });
});
