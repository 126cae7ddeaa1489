import type { SubmitCheckContext } from '../../core/job.types';
import { howToConfigure } from '../../config/llm.config';
import type { CodeGenerationParams } from './code-generation.params';
import { readContextFiles, WorkspaceFileError } from './workspace-files';

/** Submit-time checks that need the configuration or the workspace: 400 with the reason. */
export async function checkCodeGeneration(
  params: CodeGenerationParams,
  { config, workspace }: SubmitCheckContext,
): Promise<string | null> {
  if (params.provider !== undefined) {
    if (!config.llm.providers.some((provider) => provider.name === params.provider)) {
      const configured = config.llm.providers.map((provider) => provider.name).join(', ');
      return (
        `params.provider: ${params.provider} is not configured (${howToConfigure(params.provider)}; ` +
        `configured: ${configured || 'none'})`
      );
    }
  } else if (params.model !== undefined) {
    return 'params.model needs params.provider (a model id belongs to one provider)';
  }
  if (params.files && params.files.length > 0 && workspace) {
    try {
      await readContextFiles(workspace, params.files);
    } catch (error) {
      if (error instanceof WorkspaceFileError) return error.message;
      throw error;
    }
  }
  return null;
}
