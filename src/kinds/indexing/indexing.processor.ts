import { Injectable } from '@nestjs/common';
import { NonRetryableJobError } from '../../core/job.errors';
import type { JobContext, JobProcessor } from '../../core/job.types';
import { CodeIndexerService } from './code-indexer.service';
import type { IndexingParams } from './indexing.params';
import type { IndexingResult } from './indexing.result';

@Injectable()
export class IndexingProcessor implements JobProcessor<IndexingParams, IndexingResult> {
  constructor(private readonly indexer: CodeIndexerService) {}

  async process(ctx: JobContext<IndexingParams>): Promise<IndexingResult> {
    if (!ctx.workspace) throw new NonRetryableJobError('indexing needs a project workspace');
    await ctx.progress(0, 'listing files');
    const result = await this.indexer.run({
      projectId: ctx.projectId,
      root: ctx.workspace,
      ...(ctx.params.include && { include: ctx.params.include }),
      ...(ctx.params.exclude && { exclude: ctx.params.exclude }),
      fullReindex: ctx.params.fullReindex ?? false,
      signal: ctx.signal,
      onProgress: (done, total) =>
        ctx.progress(
          total === 0 ? 99 : Math.min(99, Math.floor((done * 100) / total)),
          `${done} of ${total} files`,
        ),
    });
    const { files } = result;
    ctx.log(
      `${files.total} files: ${files.indexed} indexed, ${files.unchanged} unchanged, ` +
        `${files.removed} removed, ${files.skipped} skipped; ${result.chunks} chunks, ` +
        `${result.embedded} embedded in ${result.durationMs} ms\n`,
    );
    return result;
  }
}
