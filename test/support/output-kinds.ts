import { Injectable } from '@nestjs/common';
import { IsInt, Max, Min } from 'class-validator';
import { defineJobKind, type JobContext, type JobProcessor } from '../../src/core/job.types';

export class ChatterParams {
  @IsInt()
  @Min(1)
  @Max(1000)
  lines!: number;

  /** Milliseconds between lines. */
  @IsInt()
  @Min(0)
  @Max(10_000)
  lineMs!: number;
}

export function chatterLine(index: number): string {
  return `line ${index} of the chatter\n`;
}

/** Streams `lines` lines through ctx.output, one every `lineMs`; honours the abort signal. */
@Injectable()
export class ChatterProcessor implements JobProcessor<ChatterParams, { lines: number }> {
  async process(ctx: JobContext<ChatterParams>): Promise<{ lines: number }> {
    const { lines, lineMs } = ctx.params;
    for (let i = 0; i < lines && !ctx.signal.aborted; i += 1) {
      ctx.output(chatterLine(i));
      await new Promise((resolve) => setTimeout(resolve, lineMs));
    }
    return { lines };
  }
}

export const chatterKind = defineJobKind({
  name: 'chatter',
  params: ChatterParams,
  processor: ChatterProcessor,
});
