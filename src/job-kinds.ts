import type { JobKind } from './core/job.types';

/** Every job kind the service runs: one line each. */
export const JOB_KINDS: readonly JobKind[] = [];
