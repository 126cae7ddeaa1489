import { defineJobKind } from '../../core/job.types';
import { IndexingModule } from './indexing.module';
import { IndexingParams } from './indexing.params';
import { IndexingProcessor } from './indexing.processor';
import { IndexingResultView } from './indexing.result';

export const indexingKind = defineJobKind({
  name: 'indexing',
  params: IndexingParams,
  processor: IndexingProcessor,
  result: IndexingResultView,
  workspace: true,
  imports: [IndexingModule],
  // A large repository's first run chunks every file; later runs touch only what changed.
  policies: { timeoutMs: 60 * 60_000 },
});
