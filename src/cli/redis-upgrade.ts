import Redis from 'ioredis';
import { messageOf } from '../common/errors';
import { loadConfig } from '../config/app-config';
import {
  describeUpgrade,
  oldLayoutKinds,
  upgradeQueueLayout,
  type LayoutUpgrade,
} from '../core/queue-layout-upgrade';
import { producerOptions } from '../redis/redis-options';

/**
 * Moves the jobs of the single-prefix layout to the tagged one once, for every kind that has a
 * queue there (docs/redis-cluster.md, "Upgrading from the single-prefix layout"); the workers'
 * start does the same. Safe to run again: a second run finds nothing to move.
 */
export async function upgradeRedisLayout(
  redisUrl: string,
  prefix: string,
  print: (line: string) => void,
): Promise<LayoutUpgrade> {
  const connection = producerOptions(redisUrl);
  // Its first commands leave while it connects: they wait for it instead of failing.
  const client = new Redis({
    ...connection,
    enableOfflineQueue: true,
    connectionName: 'conveyor-redis-upgrade',
  });
  client.on('error', () => undefined);
  try {
    const kinds = await oldLayoutKinds(client, prefix);
    const outcome = await upgradeQueueLayout({ client, connection, prefix, kinds });
    if (outcome === 'busy') throw new Error('another process is upgrading the layout; run again');
    if (outcome.kinds.length === 0) print(`no queue under "${prefix}" in the single-prefix layout`);
    for (const line of describeUpgrade(outcome.kinds)) print(line);
    return outcome;
  } finally {
    client.disconnect();
  }
}

async function main(): Promise<void> {
  try {
    // The servers' own reading of REDIS_URL and QUEUE_PREFIX; the upgrade needs no JWT secret.
    const config = loadConfig({ ...process.env, APP_ROLE: 'worker' });
    if (config.redisCluster) {
      throw new Error('REDIS_CLUSTER_NODES is set: a cluster never held the single-prefix layout');
    }
    const outcome = await upgradeRedisLayout(config.redisUrl, config.prefix, (line) =>
      console.log(line),
    );
    // Jobs still locked by a running worker of the previous version are not moved yet.
    if (outcome !== 'busy' && !outcome.done) process.exitCode = 2;
  } catch (error) {
    console.error(`redis:upgrade failed: ${messageOf(error).replace(/\s*\n\s*/g, ' ')}`);
    process.exitCode = 1;
  }
}

if (require.main === module) void main();
