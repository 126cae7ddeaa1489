import { setTimeout as delay } from 'node:timers/promises';
import { Injectable } from '@nestjs/common';
import { IsOptional, IsString, MaxLength } from 'class-validator';
import { bootstrap } from '../src/main';
import { defineJobKind, type JobContext, type JobProcessor } from '../src/core/job.types';

/** How long each job takes, and how many run at once: `npm run bench:fairness` sets both. */
const JOB_MS = Number(process.env.FAIR_JOB_MS ?? 20);
const CONCURRENCY = Number(process.env.FAIR_CONCURRENCY ?? 10);

export class FixedParams {
  @IsOptional()
  @IsString()
  @MaxLength(100)
  tag?: string;
}

/** Takes a fixed time and does nothing else: queue waits are counted in its durations. */
@Injectable()
export class FixedProcessor implements JobProcessor<FixedParams, { ms: number }> {
  async process(ctx: JobContext<FixedParams>): Promise<{ ms: number }> {
    await delay(JOB_MS, undefined, { signal: ctx.signal });
    return { ms: JOB_MS };
  }
}

const fixedKind = defineJobKind({
  name: 'fixed',
  params: FixedParams,
  processor: FixedProcessor,
  policies: {
    concurrency: CONCURRENCY,
    rateLimit: { max: 1_000_000, durationMs: 1000 },
    attempts: 1,
  },
});

void bootstrap({ extraKinds: [fixedKind] });
