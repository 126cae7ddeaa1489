import type { JobKind } from './core/job.types';
import { indexingKind } from './kinds/indexing/indexing.kind';
import { testExecutionKind } from './kinds/test-execution/test-execution.kind';

/** Every job kind the service runs: one line each. */
export const JOB_KINDS: readonly JobKind[] = [testExecutionKind, indexingKind];
