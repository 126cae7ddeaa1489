import { defineJobKind } from '../../core/job.types';
import { checkTestExecution } from './test-execution.check';
import { TestExecutionParams } from './test-execution.params';
import { TestExecutionProcessor } from './test-execution.processor';
import { TestExecutionResult } from './test-execution.result';

export const testExecutionKind = defineJobKind({
  name: 'test-execution',
  params: TestExecutionParams,
  processor: TestExecutionProcessor,
  result: TestExecutionResult,
  workspace: true,
  check: checkTestExecution,
  // The kind enforces the run's own timeoutMs and kills the tree; the core bound is a backstop.
  policies: { timeoutMs: 2 * 60 * 60_000 },
});
