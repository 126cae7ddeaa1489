import { Injectable } from '@nestjs/common';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { BENCH_KIND_NAMES } from './bench-kind-names';
import { defineJobKind, type JobContext, type JobProcessor } from '../src/core/job.types';

/** Worker concurrency of the bench kinds together; `npm run bench -- --concurrency N` sets it. */
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 50);

export class BenchParams {
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(1_000_000_000)
  n?: number;
}

export interface BenchResult {
  [key: string]: number;
  n: number;
}

/** Does no work: the benchmark measures the pipeline around it. */
@Injectable()
export class BenchProcessor implements JobProcessor<BenchParams, BenchResult> {
  process(ctx: JobContext<BenchParams>): Promise<BenchResult> {
    return Promise.resolve({ n: ctx.params.n ?? 0 });
  }
}

/**
 * Sized like the bare pipeline's worker: same concurrency (shared by the kinds), no throttling,
 * no retries.
 */
export function benchKinds(count: number) {
  return BENCH_KIND_NAMES.slice(0, count).map((name) =>
    defineJobKind({
      name,
      params: BenchParams,
      processor: BenchProcessor,
      policies: {
        concurrency: Math.ceil(CONCURRENCY / count),
        rateLimit: { max: 1_000_000, durationMs: 1000 },
        attempts: 1,
      },
    }),
  );
}
