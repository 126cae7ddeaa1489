import { Injectable } from '@nestjs/common';
import { NonRetryableJobError } from '../../core/job.errors';
import type { JobContext, JobProcessor } from '../../core/job.types';
import { LlmService } from '../../llm/llm.service';
import { CodeSearchService } from '../../search/code-search.service';
import { planChanges, type PlannedFile } from './answer-apply';
import { parseAnswer } from './answer.parser';
import {
  DEFAULT_CONTEXT_CHUNKS,
  MAX_CONTEXT_QUERY_CHARS,
  type CodeGenerationParams,
} from './code-generation.params';
import { systemPrompt, userPrompt } from './code-generation.prompt';
import type { CodeGenerationResult } from './code-generation.result';
import {
  MAX_CONTEXT_BYTES,
  readContextChunks,
  readContextFiles,
  readCurrent,
  WorkspaceFileError,
  writeAllOrNothing,
  type ContextChunk,
  type ContextFile,
} from './workspace-files';

@Injectable()
export class CodeGenerationProcessor implements JobProcessor<
  CodeGenerationParams,
  CodeGenerationResult
> {
  constructor(
    private readonly llm: LlmService,
    private readonly search: CodeSearchService,
  ) {}

  async process(ctx: JobContext<CodeGenerationParams>): Promise<CodeGenerationResult> {
    const started = Date.now();
    const { params } = ctx;
    const workspace = ctx.workspace;
    if (!workspace) throw new NonRetryableJobError('code-generation needs a project workspace');
    const apply = params.apply ?? true;
    const context = await this.guard(() => readContextFiles(workspace, params.files ?? []));
    const chunks = await this.chunks(ctx, workspace, context);
    // No progress report before the first token: it would open a coalescing window and hold
    // the first token back by up to PROGRESS_INTERVAL_MS.
    const outcome = await this.llm.generate(
      {
        provider: params.provider,
        model: params.model,
        system: systemPrompt(params.system),
        prompt: userPrompt(params.prompt, context, chunks),
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
      contextChunks: chunks.map(({ path, startLine, endLine }) => ({ path, startLine, endLine })),
      timeToFirstTokenMs: outcome.timeToFirstTokenMs,
      durationMs: Date.now() - started,
    };
  }

  /**
   * With context.search, the top chunks of the project's code search, read from the workspace
   * within what the named files leave of the context budget (docs/code-generation.md). Their
   * text is part of the prompt, so a changed index or file is never answered from the cache.
   */
  private async chunks(
    ctx: JobContext<CodeGenerationParams>,
    workspace: string,
    files: readonly ContextFile[],
  ): Promise<ContextChunk[]> {
    const options = ctx.params.context;
    if (!options?.search) return [];
    const query = (options.query ?? ctx.params.prompt).slice(0, MAX_CONTEXT_QUERY_CHARS);
    const limit = options.limit ?? DEFAULT_CONTEXT_CHUNKS;
    const found = await this.search.search(ctx.userId, ctx.projectId, query, limit);
    if (found.indexedAt === null) {
      ctx.log('context.search: the project has no code index (run an indexing job); no chunks\n');
      return [];
    }
    const named = new Set(files.map((file) => file.path));
    const used = files.reduce((sum, file) => sum + Buffer.byteLength(file.content), 0);
    const chunks = await readContextChunks(
      workspace,
      found.items.filter((item) => !named.has(item.path)),
      MAX_CONTEXT_BYTES - used,
    );
    ctx.log(
      `context.search: ${chunks.length} chunk(s) of ${found.items.length} found for ` +
        `${JSON.stringify(query.length > 80 ? `${query.slice(0, 80)}…` : query)}\n`,
    );
    return chunks;
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
