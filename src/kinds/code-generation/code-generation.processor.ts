import { Injectable } from '@nestjs/common';
import { NonRetryableJobError } from '../../core/job.errors';
import type { JobContext, JobProcessor } from '../../core/job.types';
import { LlmService } from '../../llm/llm.service';
import { planChanges, type PlannedFile } from './answer-apply';
import { parseAnswer } from './answer.parser';
import type { CodeGenerationParams } from './code-generation.params';
import { systemPrompt, userPrompt } from './code-generation.prompt';
import type { CodeGenerationResult } from './code-generation.result';
import {
  readContextFiles,
  readCurrent,
  WorkspaceFileError,
  writeAllOrNothing,
} from './workspace-files';

@Injectable()
export class CodeGenerationProcessor implements JobProcessor<
  CodeGenerationParams,
  CodeGenerationResult
> {
  constructor(private readonly llm: LlmService) {}

  async process(ctx: JobContext<CodeGenerationParams>): Promise<CodeGenerationResult> {
    const started = Date.now();
    const { params } = ctx;
    const workspace = ctx.workspace;
    if (!workspace) throw new NonRetryableJobError('code-generation needs a project workspace');
    const apply = params.apply ?? true;
    const context = await this.guard(() => readContextFiles(workspace, params.files ?? []));
    // No progress report before the first token: it would open a coalescing window and hold
    // the first token back by up to PROGRESS_INTERVAL_MS.
    const outcome = await this.llm.generate(
      {
        provider: params.provider,
        model: params.model,
        system: systemPrompt(params.system),
        prompt: userPrompt(params.prompt, context),
        maxOutputTokens: params.maxOutputTokens,
        temperature: params.temperature,
        cache: params.cache ?? true,
      },
      ctx.signal,
      (text) => ctx.output(text),
    );
    await ctx.progress(
      90,
      `${outcome.provider} answered; ${apply ? 'writing files' : 'not applied'}`,
    );
    const files = await this.files(workspace, outcome.text, apply);
    return {
      provider: outcome.provider,
      model: outcome.model,
      text: outcome.text,
      files: files.map(({ path, action, bytes }) => ({ path, action, bytes })),
      applied: apply,
      usage: outcome.usage,
      finishReason: outcome.finishReason,
      cached: outcome.cached,
      failover: outcome.failover,
      timeToFirstTokenMs: outcome.timeToFirstTokenMs,
      durationMs: Date.now() - started,
    };
  }

  /** Plans the answer's files and, with apply, writes them all or none. */
  private async files(workspace: string, text: string, apply: boolean): Promise<PlannedFile[]> {
    const parsed = parseAnswer(text);
    if (!parsed.ok) {
      if (!apply) return [];
      throw new NonRetryableJobError(
        `the answer cannot be applied: ${parsed.error}; nothing was written`,
      );
    }
    const originals = await this.guard(() =>
      readCurrent(
        workspace,
        parsed.blocks.map((block) => block.path),
      ),
    );
    const plan = planChanges(parsed.blocks, (path) => originals.get(path) ?? null);
    if (!plan.ok) {
      if (!apply) return [];
      throw new NonRetryableJobError(
        `the answer cannot be applied: ${plan.error}; nothing was written`,
      );
    }
    if (apply) await this.guard(() => writeAllOrNothing(workspace, plan.files, originals));
    return plan.files;
  }

  private async guard<T>(io: () => Promise<T>): Promise<T> {
    try {
      return await io();
    } catch (error) {
      if (error instanceof WorkspaceFileError) {
        throw new NonRetryableJobError(`${error.message}; nothing was written`);
      }
      throw error;
    }
  }
}
