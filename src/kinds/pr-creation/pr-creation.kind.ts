import { defineJobKind } from '../../core/job.types';
import { checkPrCreation } from './pr-creation.check';
import { PrCreationModule } from './pr-creation.module';
import { PrCreationParams } from './pr-creation.params';
import { PrCreationProcessor } from './pr-creation.processor';
import { PrCreationResultView } from './pr-creation.result';

export const prCreationKind = defineJobKind({
  name: 'pr-creation',
  params: PrCreationParams,
  processor: PrCreationProcessor,
  result: PrCreationResultView,
  workspace: true,
  check: checkPrCreation,
  imports: [PrCreationModule],
  // Each fetch and push is bounded by GIT_CLONE_TIMEOUT_MS; the job's bound covers both.
  policies: { timeoutMs: 25 * 60_000 },
});
