import { formatReport, runChaos } from '../chaos/chaos-harness';

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
      users: 4,
      projectsPerUser: 2,
      submitters: 2,
      submitEveryMs: 400,
      calmMs: 2000,
      drainMs: 90_000,
      replaceKilled: false,
      log: process.env.CHAOS_LOG ? (line) => process.stderr.write(`${line}\n`) : () => undefined,
    });
    process.stderr.write(`${formatReport(report)}\n`);
    expect(report.accepted).toBeGreaterThan(0);
    expect(report).toMatchObject({
      lost: 0,
      doneTwice: 0,
      attemptsOverMax: 0,
      missingEvents: 0,
      duplicatedEvents: 0,
    });
    for (const figure of report.faults) {
      expect({ fault: figure.fault, recovered: figure.recoveryMs !== null }).toEqual({
        fault: figure.fault,
        recovered: true,
      });
      expect(figure.readyWhileDown).not.toContain(200);
    }
    expect(report.faults.find((f) => f.fault === 'postgres-restart')?.readyBackMs).not.toBeNull();
    expect(report.ok).toBe(true);
  }, 300_000);
});
