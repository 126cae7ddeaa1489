import { defineJobKind } from '../../core/job.types';
import { CodeSearchModule } from '../../search/code-search.module';
import { checkCodeGeneration } from './code-generation.check';
import { CodeGenerationParams } from './code-generation.params';
import { CodeGenerationProcessor } from './code-generation.processor';
import { CodeGenerationResultView } from './code-generation.result';

export const codeGenerationKind = defineJobKind({
  name: 'code-generation',
  params: CodeGenerationParams,
  processor: CodeGenerationProcessor,
  result: CodeGenerationResultView,
  workspace: true,
  check: checkCodeGeneration,
  imports: [CodeSearchModule],
  // A long answer from a slow model streams for many minutes.
  policies: { timeoutMs: 20 * 60_000 },
  // An answer from the cache or a shared call spent no tokens of this job's own.
  usage: (result) =>
    result.cached
      ? null
      : {
          provider: result.provider,
          model: result.model,
          inputTokens: result.usage.inputTokens ?? 0,
          outputTokens: result.usage.outputTokens ?? 0,
        },
  quota: 'llm-tokens',
});
