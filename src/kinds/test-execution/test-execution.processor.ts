import { mkdir, mkdtemp, readFile, realpath, rm, stat } from 'node:fs/promises';
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
import { parseJunitReport, TestFailureCollector, type TestFailure } from './test-failures.parser';
import { TestCountCollector } from './test-output.parser';

const TAIL_CHARS = 4000;
const COMMAND_CHARS = 200;
const MIN_STATUS_MS = 250;
const MAX_JUNIT_BYTES = 16 * 1024 * 1024;

/**
 * Reports the run's progress and a one-line status while output arrives, at most once per
 * interval; the output itself streams through ctx.output.
 */
class StatusReporter {
  private last = 0;
  private sending: Promise<void> = Promise.resolve();

  constructor(
    private readonly intervalMs: number,
    private readonly send: () => Promise<void>,
  ) {}

  poke(): void {
    const now = Date.now();
    if (now - this.last < this.intervalMs) return;
    this.last = now;
    this.sending = this.sending.then(this.send).catch(() => undefined);
  }

  close(): Promise<void> {
    return this.sending;
  }
}

function shortCommand(argv: readonly string[]): string {
  const command = argv.join(' ');
  return command.length > COMMAND_CHARS ? `${command.slice(0, COMMAND_CHARS)}…` : command;
}

function within(dir: string, path: string): boolean {
  return path === dir || path.startsWith(`${dir}/`);
}

/** The server's PATH without its own directories (npm puts node_modules/.bin there). */
function childPath(): string {
  const entries = (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':');
  return entries.filter((entry) => entry !== '' && !within(process.cwd(), entry)).join(':');
}

/**
 * The JUnit report the run wrote, or why there is none to read: missing, older than the run
 * (left by an earlier one), not a regular file inside the workspace, or too large.
 */
async function readJunitReport(
  workspace: string,
  path: string,
  startedAt: number,
): Promise<{ xml: string } | { missing: string }> {
  let real: string;
  try {
    real = await realpath(join(workspace, path));
  } catch {
    return { missing: 'the command did not write it' };
  }
  if (!within(await realpath(workspace), real))
    return { missing: 'it links outside the workspace' };
  const info = await stat(real);
  if (!info.isFile()) return { missing: 'it is not a file' };
  // Filesystem timestamps may be coarser than the clock: allow a second.
  if (info.mtimeMs < startedAt - 1000) return { missing: 'it was not written by this run' };
  if (info.size > MAX_JUNIT_BYTES) return { missing: `it is larger than ${MAX_JUNIT_BYTES} bytes` };
  return { xml: await readFile(real, 'utf8') };
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
    const failures = new TestFailureCollector(ctx.workspace);
    let tail = '';
    let lines = 0;
    const started = Date.now();
    const command = shortCommand(argv);
    const status = new StatusReporter(Math.max(MIN_STATUS_MS, this.config.progressIntervalMs), () =>
      ctx.progress(
        Math.min(99, Math.floor(((Date.now() - started) * 100) / timeoutMs)),
        `running ${command}: ${lines} line${lines === 1 ? '' : 's'} of output`,
      ),
    );
    try {
      await ctx.progress(0, `running ${command}`);
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
          ctx.output(text);
          counts.push(text);
          failures.push(text);
          for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) lines += 1;
          status.poke();
          tail = (tail + text).slice(-TAIL_CHARS);
        },
      });
      await status.close();
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
        failures: await this.failures(ctx, started, failures),
      };
    } finally {
      await status.close();
      await rm(scratch, { recursive: true, force: true });
    }
  }

  /** From the JUnit report when the params name one and the run wrote it; else from the output. */
  private async failures(
    ctx: JobContext<TestExecutionParams>,
    startedAt: number,
    fromOutput: TestFailureCollector,
  ): Promise<TestFailure[]> {
    const path = ctx.params.junitReport;
    if (path !== undefined && ctx.workspace) {
      const report = await readJunitReport(ctx.workspace, path, startedAt);
      if ('xml' in report) return parseJunitReport(report.xml);
      ctx.log(
        `\n[conveyor] JUnit report ${path} not read: ${report.missing}; ` +
          'failures are read from the output\n',
      );
    }
    return fromOutput.result();
  }
}
