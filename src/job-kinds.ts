import type { JobKind } from './core/job.types';
import { changeKind } from './kinds/change/change.kind';
import { codeGenerationKind } from './kinds/code-generation/code-generation.kind';
import { indexingKind } from './kinds/indexing/indexing.kind';
import { prCreationKind } from './kinds/pr-creation/pr-creation.kind';
import { testExecutionKind } from './kinds/test-execution/test-execution.kind';

/** Every job kind the service runs: one line each. */
export const JOB_KINDS: readonly JobKind[] = [
  testExecutionKind,
  codeGenerationKind,
  prCreationKind,
  indexingKind,
  changeKind,
];
