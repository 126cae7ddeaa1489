import { defineJobKind } from '../../core/job.types';
import { CodeIndexModule } from '../../search/code-index.module';
import { checkChange } from './change.check';
import { ChangeParams } from './change.params';
import { ChangeProcessor } from './change.processor';
import { ChangeResultView } from './change.result';

export const changeKind = defineJobKind({
  name: 'change',
  params: ChangeParams,
  processor: ChangeProcessor,
  result: ChangeResultView,
  workspace: true,
  check: checkChange,
  imports: [CodeIndexModule],
  // Up to ten generations and test runs; each step has its own timeout besides.
  policies: { timeoutMs: 4 * 60 * 60_000 },
  quota: 'llm-tokens',
});
