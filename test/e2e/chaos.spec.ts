import { expectPromisesKept, shortChaosLoad } from '../chaos/chaos-expectations';
import { runChaos } from '../chaos/chaos-harness';

/**
 * The short chaos run of `npm test` (the whole one is `npm run chaos`): the faults that need no
 * replacement process, under a steady load of every kind, with the same checks.
 */
describe('chaos (short): faults under load keep every promise', () => {
  it('loses no job, runs none twice, misses and repeats no event, keeps attempts within bounds', async () => {
    const report = await runChaos({
      faults: [
        'redis-sigkill',
        'redis-entries-lost',
        'postgres-restart',
        'worker-partition',
        'worker-sigkill',
      ],
      ...shortChaosLoad(),
    });
    expectPromisesKept(report);
    for (const figure of report.faults) expect(figure.readyWhileDown).not.toContain(200);
    expect(report.faults.find((f) => f.fault === 'postgres-restart')?.readyBackMs).not.toBeNull();
    expect(report.ok).toBe(true);
  }, 300_000);
});
