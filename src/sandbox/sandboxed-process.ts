import { spawn, spawnSync } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';
import type { SandboxMode } from '../config/app-config';
import { killTree } from './process-tree';

export interface SandboxedRun {
  argv: string[];
  cwd: string;
  /** The whole environment of the child: nothing of the server's is added. */
  env: Record<string, string>;
  timeoutMs: number;
  signal: AbortSignal;
  sandbox: 'bwrap' | 'none';
  /** Directories the child may write (the workspace, its temp dir); with bwrap all else is read-only. */
  writable: string[];
  /** Directories hidden behind an empty tmpfs under bwrap (the server's own files). */
  hidden: string[];
  onOutput(text: string): void;
}

export interface SandboxedOutcome {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  aborted: boolean;
  spawnError: string | null;
  durationMs: number;
}

/** How long output may still arrive after the command exited. */
const PIPE_DRAIN_MS = 1000;

let bwrapWorks: boolean | undefined;

/** Whether bubblewrap is installed and can create namespaces here (it cannot in some containers). */
export function bubblewrapAvailable(): boolean {
  bwrapWorks ??=
    spawnSync('bwrap', ['--unshare-all', '--die-with-parent', '--ro-bind', '/', '/', 'true'], {
      stdio: 'ignore',
      timeout: 5000,
    }).status === 0;
  return bwrapWorks;
}

export function resolveSandbox(mode: SandboxMode): 'bwrap' | 'none' {
  if (mode === 'none') return 'none';
  if (bubblewrapAvailable()) return 'bwrap';
  if (mode === 'bwrap') throw new Error('TEST_SANDBOX=bwrap but bubblewrap cannot run here');
  return 'none';
}

function bwrapArgs(run: SandboxedRun): string[] {
  return [
    '--die-with-parent',
    '--new-session',
    '--unshare-all',
    '--ro-bind',
    '/',
    '/',
    '--dev',
    '/dev',
    '--proc',
    '/proc',
    '--tmpfs',
    '/tmp',
    // A new network namespace does not cover Unix sockets: host services (PostgreSQL, MySQL,
    // Docker...) listen under /run (/var/run links there), reachable through the / bind.
    '--tmpfs',
    '/run',
    ...run.hidden.flatMap((dir) => ['--tmpfs', dir]),
    ...run.writable.flatMap((dir) => ['--bind', dir, dir]),
    '--chdir',
    run.cwd,
    '--clearenv',
    ...Object.entries(run.env).flatMap(([name, value]) => ['--setenv', name, value]),
    '--',
    ...run.argv,
  ];
}

/**
 * Runs a command we did not write: its own process group (or bubblewrap's namespaces), a clean
 * environment, output streamed as it comes, and on timeout, abort or exit the whole tree killed.
 */
export function runSandboxed(run: SandboxedRun): Promise<SandboxedOutcome> {
  const started = Date.now();
  const [command, ...args] =
    run.sandbox === 'bwrap' ? ['bwrap', ...bwrapArgs(run)] : (run.argv as [string, ...string[]]);
  return new Promise((resolve) => {
    const outcome: SandboxedOutcome = {
      exitCode: null,
      signal: null,
      timedOut: false,
      aborted: false,
      spawnError: null,
      durationMs: 0,
    };
    const child = spawn(command, args, {
      cwd: run.cwd,
      env: run.sandbox === 'bwrap' ? { PATH: run.env.PATH ?? '/usr/bin:/bin' } : run.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const decoders = [new StringDecoder('utf8'), new StringDecoder('utf8')] as const;
    child.stdout.on('data', (chunk: Buffer) => run.onOutput(decoders[0].write(chunk)));
    let stderrHead = '';
    child.stderr.on('data', (chunk: Buffer) => {
      const text = decoders[1].write(chunk);
      if (stderrHead.length < 1024) stderrHead += text;
      run.onOutput(text);
    });
    const stop = () => child.pid !== undefined && killTree(child.pid);
    const timer = setTimeout(() => {
      outcome.timedOut = true;
      stop();
    }, run.timeoutMs);
    const onAbort = () => {
      outcome.aborted = true;
      stop();
    };
    if (run.signal.aborted) onAbort();
    run.signal.addEventListener('abort', onAbort, { once: true });
    child.on('error', (error) => {
      outcome.spawnError = error.message;
    });
    // A background process the command left behind keeps the pipes open: end the tree on exit.
    // One that escaped the tree (possible without bwrap) would hold them open for ever, so
    // once the command is gone the rest of the output gets a moment to drain, then no more.
    let drain: NodeJS.Timeout | undefined;
    child.on('exit', () => {
      stop();
      drain = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
      }, PIPE_DRAIN_MS);
    });
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      clearTimeout(drain);
      run.signal.removeEventListener('abort', onAbort);
      run.onOutput(decoders[0].end() + decoders[1].end());
      // bubblewrap reports a command it cannot execute as the first thing on stderr, in several
      // writes (so possibly several chunks), and exits 1.
      const failedExec = /^bwrap: execvp [^:\n]*: (.+)\n/.exec(stderrHead);
      if (run.sandbox === 'bwrap' && code === 1 && failedExec) {
        outcome.spawnError ??= failedExec[1] ?? stderrHead;
      }
      outcome.exitCode = code;
      outcome.signal = sig;
      outcome.durationMs = Date.now() - started;
      resolve(outcome);
    });
  });
}
