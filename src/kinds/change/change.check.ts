import type { SubmitCheckContext } from '../../core/job.types';
import { checkCodeGeneration } from '../code-generation/code-generation.check';
import { checkPrCreation } from '../pr-creation/pr-creation.check';
import { checkTestExecution } from '../test-execution/test-execution.check';
import type { ChangeParams } from './change.params';

/** A step's check answers for its own params; here they are nested, so the field is renamed. */
function nested(problem: string | null, under: string): string | null {
  return problem && problem.replace(/^params\./, `params.${under}.`);
}

/** Each step's submit-time checks, so that a change is refused before any step runs. */
export async function checkChange(
  params: ChangeParams,
  ctx: SubmitCheckContext,
): Promise<string | null> {
  const generation = await checkCodeGeneration(params, ctx);
  if (generation) return generation;
  if (params.testCommand !== undefined) {
    const test = checkTestExecution({ testCommand: params.testCommand }, ctx);
    if (test) return test;
  }
  if (params.pullRequest) {
    return nested(await checkPrCreation(params.pullRequest, ctx), 'pullRequest');
  }
  return null;
}
