import { expectPromisesKept, shortChaosLoad } from '../chaos/chaos-expectations';
import { runChaos } from '../chaos/chaos-harness';

/**
 * The short chaos run on a Redis Cluster (3 masters + 1 replica each): the master serving the
 * echo queue is SIGKILLed while jobs flow and its replica takes over; then queue entries are
 * lost on the cluster. Same checks as the single-node short run (test/e2e/chaos.spec.ts).
 */
describe('chaos on a Redis Cluster (short): a master killed under load keeps every promise', () => {
  it('refuses a single-node fault on the cluster before starting anything', async () => {
    await expect(
      runChaos({
        faults: ['redis-sigkill'],
        redis: 'cluster',
        users: 1,
        projectsPerUser: 1,
        submitters: 1,
        submitEveryMs: 100,
        calmMs: 0,
        drainMs: 0,
        replaceKilled: false,
        log: () => undefined,
      }),
    ).rejects.toThrow(/redis-sigkill need a single Redis/);
  });

  it('loses no job, runs none twice, misses and repeats no event, keeps attempts within bounds', async () => {
    const report = await runChaos({
      faults: ['redis-master-sigkill', 'redis-entries-lost'],
      redis: 'cluster',
      ...shortChaosLoad(),
    });
    expectPromisesKept(report);
    // A job failing on a cluster-only error means a command or script spans slots.
    const clusterErrors = Object.keys(report.errors).filter((message) =>
      /slot|CROSSSLOT|MOVED|non local key/i.test(message),
    );
    expect(clusterErrors).toEqual([]);
    const failover = report.faults.find((f) => f.fault === 'redis-master-sigkill');
    expect(failover?.clusterRecoveredInMs).not.toBeNull();
    expect(failover?.readyBackMs).not.toBeNull();
    expect(report.ok).toBe(true);
  }, 300_000);
});
