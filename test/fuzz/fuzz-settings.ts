import { randomInt } from 'node:crypto';

export interface FuzzSettings {
  /** fast-check seed; every operation derives its own from it, so one run replays exactly. */
  readonly seed: number;
  /** Requests per operation (and handshakes, and status reports). */
  readonly runs: number;
}

/** `npm run fuzz` goes long; inside `npm test` the same tier runs a short, bounded pass. */
const DEFAULT_RUNS = process.env.npm_lifecycle_event === 'fuzz' ? 300 : 12;

function intFromEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) {
    throw new Error(`${name} must be an integer ≥ ${min}, got "${raw}"`);
  }
  return value;
}

export function fuzzSettings(): FuzzSettings {
  return {
    seed: intFromEnv('FUZZ_SEED', randomInt(0, 2 ** 31 - 1), -(2 ** 31)),
    runs: intFromEnv('FUZZ_RUNS', DEFAULT_RUNS, 1),
  };
}
