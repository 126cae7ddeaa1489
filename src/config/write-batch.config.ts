import { int, type Env } from './env-readers';

/** Group commit of the job core's writes (docs/write-batching.md). */
export interface WriteBatchConfig {
  /** How long the first write of a batch waits for others; 0: only those of the same tick. */
  windowMs: number;
  /** A batch this large is written at once. */
  maxSize: number;
  /** Batches written at the same time; writes arriving meanwhile join the next batch. */
  maxInFlight: number;
}

export const WRITE_BATCH_DEFAULTS: WriteBatchConfig = { windowMs: 2, maxSize: 200, maxInFlight: 3 };

/** WRITE_BATCH_WINDOW_MS, WRITE_BATCH_MAX_SIZE, WRITE_BATCH_MAX_IN_FLIGHT. */
export function parseWriteBatchConfig(env: Env): WriteBatchConfig {
  return {
    windowMs: int(env, 'WRITE_BATCH_WINDOW_MS', WRITE_BATCH_DEFAULTS.windowMs, 0, 1000),
    maxSize: int(env, 'WRITE_BATCH_MAX_SIZE', WRITE_BATCH_DEFAULTS.maxSize, 1, 5000),
    maxInFlight: int(env, 'WRITE_BATCH_MAX_IN_FLIGHT', WRITE_BATCH_DEFAULTS.maxInFlight, 1, 64),
  };
}
