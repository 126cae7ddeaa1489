import {
  checkFaults,
  faultsFor,
  FAULTS,
  formatReport,
  runChaos,
  type Fault,
} from './chaos-harness';

/**
 * `npm run chaos`: every fault, under a steady load; exits 1 when a promise was broken.
 * CHAOS_FAULTS (comma-separated) runs only those faults. CHAOS_REDIS=cluster runs on a Redis
 * Cluster (3 masters + 1 replica each) and its faults instead of the single-node ones.
 */
async function main(): Promise<void> {
  const mode = process.env.CHAOS_REDIS ?? 'single';
  if (mode !== 'single' && mode !== 'cluster') {
    throw new Error(`CHAOS_REDIS: "${mode}" is neither single nor cluster`);
  }
  const chosen = process.env.CHAOS_FAULTS?.split(',').filter(Boolean) ?? faultsFor(mode);
  const unknown = chosen.filter((name) => !(FAULTS as readonly string[]).includes(name));
  if (unknown.length > 0) {
    throw new Error(
      `CHAOS_FAULTS: unknown fault(s) ${unknown.join(', ')}; known: ${FAULTS.join(', ')}`,
    );
  }
  checkFaults(mode, chosen as Fault[]);
  const started = Date.now();
  const report = await runChaos({
    faults: chosen as Fault[],
    redis: mode,
    users: 8,
    projectsPerUser: 3,
    submitters: 2,
    submitEveryMs: 600,
    calmMs: 10_000,
    drainMs: 240_000,
    replaceKilled: true,
    log: (line) =>
      process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${line}\n`),
  });
  process.stdout.write(`${formatReport(report)}\n`);
  process.exitCode = report.ok ? 0 : 1;
}

void main().catch((error: unknown) => {
  process.stderr.write(`chaos: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
