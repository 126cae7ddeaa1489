import type { SubmitCheckContext } from '../../core/job.types';
import { GitCli } from '../../projects/git-cli';
import { checkBranchName } from '../../projects/git-ref';
import type { PrCreationParams } from './pr-creation.params';

/** Submit-time checks beyond the DTO: branch names by git's rules, body vs description. */
export async function checkPrCreation(
  params: PrCreationParams,
  { config }: SubmitCheckContext,
): Promise<string | null> {
  if (
    params.body !== undefined &&
    params.description !== undefined &&
    params.body !== params.description
  ) {
    return 'params.description is an alias of params.body: give one, or both with the same text';
  }
  const git = new GitCli(config);
  const source = await checkBranchName(git, 'params.sourceBranch', params.sourceBranch);
  if (source) return source;
  if (params.targetBranch !== undefined) {
    const target = await checkBranchName(git, 'params.targetBranch', params.targetBranch);
    if (target) return target;
    if (params.targetBranch === params.sourceBranch) {
      return 'params.targetBranch must differ from params.sourceBranch';
    }
  }
  return null;
}
