import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { JobCancelledError, NonRetryableJobError } from '../../core/job.errors';
import type { JobContext, JobProcessor } from '../../core/job.types';
import { resolveSandbox, runSandboxed } from '../../sandbox/sandboxed-process';
import { splitCommand } from './test-command';
import type { TestExecutionParams } from './test-execution.params';
import type { TestExecutionResult } from './test-execution.result';
import { TestCountCollector } from './test-output.parser';

const TAIL_CHARS = 4000;
const MESSAGE_CHARS = 8000;
const MIN_BATCH_MS = 250;

/** Collects output lines and hands them on in batches, at most one batch per interval. */
class LineBatcher {
  private pending = '';
  private timer?: NodeJS.Timeout;
  private sending: Promise<void> = Promise.resolve();

  constructor(
    private readonly intervalMs: number,
    private readonly send: (lines: string) => Promise<void>,
  ) {}

  push(text: string): void {
    this.pending += text;
    this.timer ??= setTimeout(() => this.flush(), this.intervalMs);
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    this.flush();
    await this.sending;
  }

  private flush(): void {
    this.timer = undefined;
    if (this.pending === '') return;
    let lines = this.pending;
    this.pending = '';
    if (lines.length > MESSAGE_CHARS) lines = `…${lines.slice(-MESSAGE_CHARS)}`;
    this.sending = this.sending.then(() => this.send(lines)).catch(() => undefined);
  }
}

function within(dir: string, path: string): boolean {
  return path === dir || path.startsWith(`${dir}/`);
}

/** The server's PATH without its own directories (npm puts node_modules/.bin there). */
function childPath(): string {
  const entries = (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':');
  return entries.filter((entry) => entry !== '' && !within(process.cwd(), entry)).join(':');
}

/** Never hide a directory the tools themselves live in. */
function hiddenDirs(candidates: string[]): string[] {
  const needed = [process.execPath, ...childPath().split(':')];
  return candidates.filter((dir) => dir !== '/' && !needed.some((path) => within(dir, path)));
}

@Injectable()
export class TestExecutionProcessor
  implements JobProcessor<TestExecutionParams, TestExecutionResult>, OnModuleInit
{
  private readonly logger = new Logger('TestExecution');

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  onModuleInit(): void {
    if (resolveSandbox(this.config.testExecution.sandbox) === 'none') {
      this.logger.warn(
        'test commands run WITHOUT the bubblewrap sandbox: they can reach the network and read ' +
          "this host's files and other processes' environments (TEST_SANDBOX=" +
          `${this.config.testExecution.sandbox}); see docs/test-execution.md`,
      );
    }
  }

  async process(ctx: JobContext<TestExecutionParams>): Promise<TestExecutionResult> {
    const {
      testCommand,
      files = [],
      timeoutMs = this.config.testExecution.defaultTimeoutMs,
    } = ctx.params;
    const split = splitCommand(testCommand);
    if ('error' in split) throw new NonRetryableJobError(split.error);
    if (!ctx.workspace) throw new NonRetryableJobError('test-execution needs a project workspace');
    const argv = [...split.argv, ...files];
    const sandbox = resolveSandbox(this.config.testExecution.sandbox);
    const scratch = await mkdtemp(join(tmpdir(), 'conveyor-test-'));
    const home = join(scratch, 'home');
    const tmp = join(scratch, 'tmp');
    await Promise.all([mkdir(home), mkdir(tmp)]);
    const counts = new TestCountCollector();
    let tail = '';
    const started = Date.now();
    const batcher = new LineBatcher(
      Math.max(MIN_BATCH_MS, this.config.progressIntervalMs),
      (lines) =>
        ctx.progress(Math.min(99, Math.floor(((Date.now() - started) * 100) / timeoutMs)), lines),
    );
    try {
      const outcome = await runSandboxed({
        argv,
        cwd: ctx.workspace,
        env: {
          PATH: childPath(),
          HOME: home,
          TMPDIR: tmp,
          CI: 'true',
          NO_COLOR: '1',
          FORCE_COLOR: '0',
          LANG: 'C.UTF-8',
        },
        timeoutMs,
        signal: ctx.signal,
        sandbox,
        writable: [ctx.workspace, scratch],
        hidden: hiddenDirs([process.cwd(), this.config.dataDir, this.config.workspacesDir]),
        onOutput: (raw) => {
          // PostgreSQL text and jsonb cannot hold NUL: one printed must not fail the job.
          const text = raw.replace(/\0/g, '\uFFFD');
          ctx.log(text);
          counts.push(text);
          batcher.push(text);
          tail = (tail + text).slice(-TAIL_CHARS);
        },
      });
      await batcher.close();
      if (outcome.aborted) throw new JobCancelledError();
      if (outcome.spawnError !== null) {
        throw new NonRetryableJobError(`failed to start ${argv[0]}: ${outcome.spawnError}`);
      }
      if (outcome.timedOut) {
        throw new NonRetryableJobError(
          `tests timed out after ${timeoutMs} ms; the process tree was killed`,
        );
      }
      if (outcome.exitCode === 126 || outcome.exitCode === 127) {
        throw new NonRetryableJobError(
          `failed to start ${argv[0]}: not found or not executable (exit ${outcome.exitCode})`,
        );
      }
      if (outcome.signal !== null) {
        throw new NonRetryableJobError(`tests were killed by ${outcome.signal}`);
      }
      return {
        exitCode: outcome.exitCode,
        signal: outcome.signal,
        ...counts.result(),
        durationMs: outcome.durationMs,
        outputTail: tail,
      };
    } finally {
      await batcher.close();
      await rm(scratch, { recursive: true, force: true });
    }
  }
}
