import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Injectable } from '@nestjs/common';
import { ChildJobRefusedError } from '../../core/job.errors';
import type { JobContext, JobProcessor } from '../../core/job.types';
import { TokenQuotaExceededError } from '../../core/token-quota';
import { CodeIndexRepository } from '../../search/code-index.repository';
import type { CodeGenerationParams } from '../code-generation/code-generation.params';
import type { CodeGenerationResult } from '../code-generation/code-generation.result';
import { MAX_CONTEXT_BYTES, MAX_CONTEXT_FILES } from '../code-generation/workspace-files';
import type { PrCreationParams } from '../pr-creation/pr-creation.params';
import type { PrCreationResult } from '../pr-creation/pr-creation.result';
import {
  buildFixPrompt,
  ChangeLoop,
  DEFAULT_GENERATION_RESERVE,
  failingTestsBody,
  searchQuery,
  type TestRun,
} from './change.loop';
import { DEFAULT_MAX_ITERATIONS, type ChangeParams } from './change.params';
import type { ChangeResult } from './change.result';

type Ctx = JobContext<ChangeParams>;

/** Progress (percent) at the start of each part: indexing, the iterations, the pull request. */
const ITERATIONS_FROM = 5;
const PULL_REQUEST_FROM = 90;

/**
 * index → generate → test → fix … → pull request, each step a child job (docs/change.md): the
 * steps keep their own history, retries and cancel, and a recovered run repeats none of them.
 */
@Injectable()
export class ChangeProcessor implements JobProcessor<ChangeParams, ChangeResult> {
  constructor(private readonly index: CodeIndexRepository) {}

  async process(ctx: Ctx): Promise<ChangeResult> {
    const { params } = ctx;
    const search = await this.searchContext(ctx);
    const loop = new ChangeLoop(
      params.maxIterations ?? DEFAULT_MAX_ITERATIONS,
      params.budget
        ? {
            maxTokens: params.budget.maxTokens,
            reserve: params.maxOutputTokens ?? DEFAULT_GENERATION_RESERVE,
          }
        : null,
    );
    for (let next = loop.nextGeneration(); next; next = loop.nextGeneration()) {
      await this.iterate(ctx, loop, search, next.maxOutputTokens);
    }
    const pullRequest = await this.pullRequest(ctx, loop);
    return {
      outcome: loop.outcome(),
      stopReason: loop.stopReason ?? 'max-iterations',
      iterations: loop.iterations,
      filesChanged: loop.filesChanged,
      usage: loop.usage,
      pullRequest,
    };
  }

  /** Context search is on when asked, or by default when the project has an index; then the index is brought up to date first. */
  private async searchContext(ctx: Ctx): Promise<CodeGenerationParams['context']> {
    const asked = ctx.params.context?.search;
    const search = asked ?? (await this.index.state(ctx.projectId)) !== null;
    if (!search) return { search: false };
    await ctx.progress(1, 'indexing the project');
    await ctx.child('index', 'indexing', {});
    return { search: true, limit: ctx.params.context?.limit };
  }

  private async iterate(
    ctx: Ctx,
    loop: ChangeLoop,
    context: CodeGenerationParams['context'],
    maxOutputTokens: number | undefined,
  ): Promise<void> {
    const n = loop.iterations.length + 1;
    const label = `iteration ${n} of ${loop.maxIterations}`;
    const span = (PULL_REQUEST_FROM - ITERATIONS_FROM) / loop.maxIterations;
    const at = (part: number) => Math.round(ITERATIONS_FROM + span * (n - 1 + part));
    const { params } = ctx;
    const last = loop.lastTestRun;
    const generationParams: CodeGenerationParams = {
      prompt: last ? buildFixPrompt(params.prompt, last, loop.filesChanged) : params.prompt,
      files: await this.contextFiles(ctx, loop.filesChanged),
      provider: params.provider,
      model: params.model,
      maxOutputTokens: maxOutputTokens ?? params.maxOutputTokens,
      context: { ...context, ...(context?.search ? { query: searchQuery(params.prompt) } : {}) },
    };
    await ctx.progress(at(0), `${label}: generating`);
    const generate = `generate-${n}`;
    let generation: CodeGenerationResult;
    try {
      generation = await ctx.child<CodeGenerationResult>(
        generate,
        'code-generation',
        generationParams,
      );
    } catch (error) {
      if (!(
        error instanceof ChildJobRefusedError && error.cause instanceof TokenQuotaExceededError
      ))
        throw error;
      loop.recordQuotaReached();
      return;
    }
    loop.recordGeneration(ctx.childId(generate)!, generation);
    if (!params.testCommand) {
      loop.recordUntested();
      return;
    }
    await ctx.progress(at(0.5), `${label}: testing`);
    const key = `test-${n}`;
    const run = await ctx.child<TestRun>(key, 'test-execution', {
      testCommand: params.testCommand,
    });
    loop.recordTests(ctx.childId(key)!, run);
    const { passed, failed } = run;
    await ctx.progress(at(1), `${label}: tests: ${passed ?? '?'} passed, ${failed ?? '?'} failed`);
  }

  /** The caller's files and those changed so far, as many as code-generation takes. */
  private async contextFiles(ctx: Ctx, changed: string[]): Promise<string[] | undefined> {
    const named = ctx.params.files ?? [];
    const files = [...named];
    let bytes = 0;
    for (const path of named) bytes += await this.size(ctx, path);
    for (const path of changed) {
      if (files.includes(path) || files.length >= MAX_CONTEXT_FILES) continue;
      const size = await this.size(ctx, path);
      if (bytes + size > MAX_CONTEXT_BYTES) continue;
      bytes += size;
      files.push(path);
    }
    return files.length > 0 ? files : undefined;
  }

  private async size(ctx: Ctx, path: string): Promise<number> {
    if (!ctx.workspace) return 0;
    return stat(join(ctx.workspace, path)).then(
      (stats) => stats.size,
      () => 0,
    );
  }

  private async pullRequest(ctx: Ctx, loop: ChangeLoop): Promise<ChangeResult['pullRequest']> {
    const asked = ctx.params.pullRequest;
    if (!asked) return null;
    const red = loop.outcome() === 'tests-failing';
    if (red && asked.draftOnFailure === false) return null;
    const draft = red || (asked.draft ?? false);
    const prParams: PrCreationParams = {
      title: asked.title,
      body: red ? failingTestsBody(asked.body, loop.lastTestRun!) : asked.body,
      sourceBranch: asked.sourceBranch,
      targetBranch: asked.targetBranch,
      draft,
      labels: asked.labels,
      reviewers: asked.reviewers,
    };
    await ctx.progress(PULL_REQUEST_FROM, `${red ? 'draft ' : ''}pull request`);
    const result = await ctx.child<PrCreationResult>('pull-request', 'pr-creation', prParams);
    return {
      number: result.number,
      url: result.url,
      draft: result.draft,
      operation: result.operation,
    };
  }
}
