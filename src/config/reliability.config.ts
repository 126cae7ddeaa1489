import { ConfigError } from './app-config';

/** The orphan reconciler (docs/reliability.md). */
export interface ReliabilityConfig {
  /** How often a worker process looks for unfinished jobs whose queue entry is gone. */
  reconcileIntervalMs: number;
  /** A job is only looked at once its row has not changed for this long. */
  reconcileAfterMs: number;
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be an integer (got "${raw}")`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}`);
  return n;
}

export function parseReliabilityConfig(env: Env): ReliabilityConfig {
  return {
    reconcileIntervalMs: int(env, 'RECONCILE_INTERVAL_MS', 60_000, 0, 86_400_000),
    // Well above the time between a submit's row and its queue entry, and a retry's backoff.
    reconcileAfterMs: int(env, 'RECONCILE_AFTER_MS', 120_000, 1000, 86_400_000),
  };
}
