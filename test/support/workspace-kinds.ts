import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Injectable } from '@nestjs/common';
import { IsBoolean, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { defineJobKind, type JobContext, type JobProcessor } from '../../src/core/job.types';

/** Every run appends `start|end <jobId> <pid> <epoch ms>` here, in the project's workspace. */
export const JOURNAL = '.conveyor-journal';

export class WorkspaceEchoParams {
  @IsString()
  @MaxLength(200)
  text!: string;

  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(600_000)
  runMs?: number;

  /** The job's first run holds the workspace until it is aborted or its worker dies. */
  @IsOptional()
  @IsBoolean()
  holdFirstRun?: boolean;
}

export interface WorkspaceEchoResult {
  text: string;
  pid: number;
  [key: string]: string | number;
}

export interface JournalEntry {
  event: 'start' | 'end';
  jobId: string;
  pid: number;
  at: number;
}

export function readJournal(workspace: string): JournalEntry[] {
  const path = join(workspace, JOURNAL);
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const [event, jobId, pid, at] = line.split(' ');
      return { event: event as JournalEntry['event'], jobId, pid: Number(pid), at: Number(at) };
    });
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** A workspace kind the tests control: it journals its runs in the workspace and sleeps. */
@Injectable()
export class WorkspaceEchoProcessor implements JobProcessor<
  WorkspaceEchoParams,
  WorkspaceEchoResult
> {
  async process(ctx: JobContext<WorkspaceEchoParams>): Promise<WorkspaceEchoResult> {
    if (ctx.workspace === null) throw new Error('no workspace');
    const { text, runMs = 0, holdFirstRun = false } = ctx.params;
    const journal = (event: string) =>
      appendFileSync(
        join(ctx.workspace ?? '', JOURNAL),
        `${event} ${ctx.jobId} ${process.pid} ${Date.now()}\n`,
      );
    journal('start');
    const marker = join(ctx.workspace, `.conveyor-ran-${ctx.jobId}`);
    if (holdFirstRun && !existsSync(marker)) {
      writeFileSync(marker, String(process.pid));
      await pause(600_000, ctx.signal);
    } else {
      await pause(runMs, ctx.signal);
    }
    journal('end');
    return { text, pid: process.pid };
  }
}

export const workspaceEchoKind = defineJobKind({
  name: 'workspace-echo',
  params: WorkspaceEchoParams,
  processor: WorkspaceEchoProcessor,
  workspace: true,
  policies: { backoffMs: 50 },
});
