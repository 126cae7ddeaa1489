import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Injectable } from '@nestjs/common';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import {
  ChildJobCancelledError,
  ChildJobFailedError,
  NonRetryableJobError,
} from '../../src/core/job.errors';
import {
  defineJobKind,
  type JobContext,
  type JobProcessor,
  type JsonValue,
} from '../../src/core/job.types';

/** Where `counted` jobs record their runs: one line per run in the file named by their text. */
export const COUNT_DIR_ENV = 'CHILD_COUNT_DIR';

/** How many times `counted` jobs with this text have started. */
export function runsOf(dir: string, text: string): number {
  try {
    return readFileSync(join(dir, text), 'utf8').split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
}

export class CountedParams {
  @IsString()
  @MaxLength(200)
  text!: string;

  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(600_000)
  runMs?: number;

  /** 'fatal' fails every run; 'first-run' fails only the first run ever of this text. */
  @IsOptional()
  @IsIn(['fatal', 'first-run'])
  fail?: 'fatal' | 'first-run';
}

/** A step the tests count: each run appends a line to its file before it does anything else. */
@Injectable()
export class CountedProcessor implements JobProcessor<CountedParams, JsonValue> {
  async process(ctx: JobContext<CountedParams>): Promise<JsonValue> {
    const { text, runMs = 0, fail } = ctx.params;
    const dir = process.env[COUNT_DIR_ENV];
    if (dir) appendFileSync(join(dir, text), `${ctx.jobId} ${process.pid}\n`);
    await delay(runMs, undefined, { signal: ctx.signal }).catch(() => undefined);
    if (fail === 'fatal' || (fail === 'first-run' && dir && runsOf(dir, text) === 1)) {
      throw new NonRetryableJobError(`${text} failed`);
    }
    return { text, pid: process.pid };
  }
}

export class StepSpec {
  @IsString()
  @MaxLength(200)
  key!: string;

  @IsString()
  @MaxLength(100)
  kind!: string;

  @IsObject()
  params!: Record<string, unknown>;
}

export class StepsParams {
  @IsArray()
  @ArrayMaxSize(10)
  @ValidateNested({ each: true })
  @Type(() => StepSpec)
  steps!: StepSpec[];

  /** Records a step's typed failure in the result instead of failing. */
  @IsOptional()
  @IsBoolean()
  catchFailures?: boolean;
}

/** A parent: runs its steps one after the other with ctx.child and returns their results. */
@Injectable()
export class StepsProcessor implements JobProcessor<StepsParams, JsonValue> {
  async process(ctx: JobContext<StepsParams>): Promise<JsonValue> {
    const results: JsonValue[] = [];
    for (const step of ctx.params.steps) {
      try {
        results.push(await ctx.child(step.key, step.kind, step.params));
      } catch (error) {
        const typed =
          error instanceof ChildJobFailedError || error instanceof ChildJobCancelledError;
        if (!ctx.params.catchFailures || !typed) throw error;
        results.push({ failed: error.name, childId: error.childId, status: error.status });
      }
    }
    return { results, attempt: ctx.attempt };
  }
}

export const countedKind = defineJobKind({
  name: 'counted',
  params: CountedParams,
  processor: CountedProcessor,
  policies: { backoffMs: 50 },
});

export const stepsKind = defineJobKind({
  name: 'steps',
  params: StepsParams,
  processor: StepsProcessor,
  policies: { backoffMs: 50 },
});

/** A parent with a short timeout. */
export const hastyStepsKind = defineJobKind({
  name: 'hasty-steps',
  params: StepsParams,
  processor: StepsProcessor,
  policies: { timeoutMs: 1500 },
});

/** A parent that holds its project's workspace: its steps run inside its lease. */
export const workspaceStepsKind = defineJobKind({
  name: 'workspace-steps',
  params: StepsParams,
  processor: StepsProcessor,
  workspace: true,
});
