import { setTimeout as delay } from 'node:timers/promises';
import { Injectable } from '@nestjs/common';
import { IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { NonRetryableJobError } from '../../src/core/job.errors';
import { defineJobKind, type JobContext, type JobProcessor } from '../../src/core/job.types';

export class EchoParams {
  @IsString()
  @MaxLength(1000)
  text!: string;

  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(1000)
  steps?: number;

  /** Milliseconds between progress steps. */
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(600_000)
  stepMs?: number;

  /** 'until-last' fails every attempt but the last; 'always' retries then fails; 'fatal' never retries. */
  @IsOptional()
  @IsIn(['until-last', 'always', 'fatal'])
  fail?: 'until-last' | 'always' | 'fatal';
}

export interface EchoResult {
  text: string;
  attempt: number;
  pid: number;
  [key: string]: string | number;
}

/** Waits `ms`, or until the job is aborted. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return delay(ms, undefined, { signal }).catch(() => undefined);
}

/** A job the tests control: N progress steps, optional failures, honours the abort signal. */
@Injectable()
export class EchoProcessor implements JobProcessor<EchoParams, EchoResult> {
  async process(ctx: JobContext<EchoParams>): Promise<EchoResult> {
    const { text, steps = 0, stepMs = 0, fail } = ctx.params;
    for (let step = 1; step <= steps && !ctx.signal.aborted; step += 1) {
      await pause(stepMs, ctx.signal);
      if (!ctx.signal.aborted)
        await ctx.progress(Math.floor((step * 100) / (steps + 1)), `step ${step}`);
    }
    if (fail === 'fatal') throw new NonRetryableJobError(`fatal: ${text}`);
    if (fail === 'always' || (fail === 'until-last' && ctx.attempt < ctx.maxAttempts)) {
      throw new Error(`attempt ${ctx.attempt} failed: ${text}`);
    }
    return { text, attempt: ctx.attempt, pid: process.pid };
  }
}

export const echoKind = defineJobKind({
  name: 'echo',
  params: EchoParams,
  processor: EchoProcessor,
  policies: { backoffMs: 50 },
});

/** A second kind with the same processor, for what is scoped or listed per kind. */
export const otherKind = defineJobKind({
  name: 'other',
  params: EchoParams,
  processor: EchoProcessor,
  policies: { backoffMs: 50 },
});
