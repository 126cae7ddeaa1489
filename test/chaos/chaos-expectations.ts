import { formatReport, type ChaosOptions, type ChaosReport } from './chaos-harness';

/** The load of the short runs in the test tiers; the run's lines go to stderr if CHAOS_LOG is set. */
export function shortChaosLoad(): Omit<ChaosOptions, 'faults' | 'redis'> {
  return {
    users: 4,
    projectsPerUser: 2,
    submitters: 2,
    submitEveryMs: 400,
    calmMs: 2000,
    drainMs: 90_000,
    replaceKilled: false,
    log: process.env.CHAOS_LOG ? (line) => process.stderr.write(`${line}\n`) : () => undefined,
  };
}

/**
 * Prints the report, then checks what every chaos run promises whatever its faults: jobs were
 * accepted, none lost or done twice, attempts in bounds, no event missed or repeated, and each
 * fault recovered from.
 */
export function expectPromisesKept(report: ChaosReport): void {
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
  }
}
