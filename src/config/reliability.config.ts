import { int, type Env } from './env-readers';

/** The orphan reconciler (docs/reliability.md). */
export interface ReliabilityConfig {
  /** How often a worker process looks for unfinished jobs whose queue entry is gone. */
  reconcileIntervalMs: number;
  /** A job is only looked at once its row has not changed for this long. */
  reconcileAfterMs: number;
}

export function parseReliabilityConfig(env: Env): ReliabilityConfig {
  return {
    reconcileIntervalMs: int(env, 'RECONCILE_INTERVAL_MS', 60_000, 0, 86_400_000),
    // Well above the time between a submit's row and its queue entry, and a retry's backoff.
    reconcileAfterMs: int(env, 'RECONCILE_AFTER_MS', 120_000, 1000, 86_400_000),
  };
}
