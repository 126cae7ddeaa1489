import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

export interface ExitResult {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ReadyInfo {
  role: string;
  /** The HTTP port the process listens on; undefined for a worker. */
  port: number | undefined;
}

const ROOT = resolve(__dirname, '../..');
const ENTRY = 'test/support/conveyor-main.ts';
/** ts-node with SWC (see the file). */
export const TS_CHILD_REGISTER = resolve(__dirname, 'ts-child-register.js');
const READY = /conveyor (api|worker|all) ready(?: on port (\d+))?/;
const TAIL_CHARS = 4000;

const live = new Set<ConveyorProcess>();

process.once('exit', () => {
  for (const proc of live) proc.child.kill('SIGKILL');
});

/** Only what the child is given: PATH and HOME from the runner, NODE_ENV=test, then `env`. */
export function childEnv(env: Record<string, string>): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? ROOT,
    NODE_ENV: 'test',
    ...env,
  };
}

function tail(text: string): string {
  return text.length > TAIL_CHARS ? `…${text.slice(-TAIL_CHARS)}` : text;
}

/** One Conveyor child process (`test/support/conveyor-main.ts` under ts-node with SWC). */
export class ConveyorProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<ExitResult>;
  private out = '';
  private err = '';
  private exit: ExitResult | undefined;

  constructor(
    readonly label: string,
    env: Record<string, string>,
    entry = ENTRY,
  ) {
    this.child = spawn(process.execPath, ['-r', TS_CHILD_REGISTER, entry], {
      cwd: ROOT,
      env: childEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (this.child.pid === undefined) throw new Error(`${label}: spawn failed`);
    this.pid = this.child.pid;
    live.add(this);
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (this.out += chunk));
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (this.err += chunk));
    this.exited = new Promise<ExitResult>((done) => {
      this.child.once('close', (code, signal) => {
        this.exit = { code, signal };
        live.delete(this);
        done(this.exit);
      });
    });
  }

  get stdout(): string {
    return this.out;
  }

  get stderr(): string {
    return this.err;
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** Label, pid, exit state and the tail of both streams, for failure messages. */
  describe(): string {
    const state = this.exit
      ? `exited (code ${this.exit.code}, signal ${this.exit.signal})`
      : 'running';
    return (
      `${this.label} (pid ${this.pid}) ${state}\n` +
      `--- stdout ---\n${tail(this.out)}\n--- stderr ---\n${tail(this.err)}`
    );
  }

  /** Resolves with the first stdout match, rejects if the process exits or the bound passes. */
  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    return new Promise((resolvePromise, reject) => {
      const stream = this.child.stdout;
      const check = (): boolean => {
        const match = this.out.match(pattern);
        if (!match) return false;
        finish();
        resolvePromise(match);
        return true;
      };
      const onExit = () => {
        if (check()) return;
        finish();
        reject(new Error(`${this.label} exited before printing ${pattern}\n${this.describe()}`));
      };
      const timer = setTimeout(() => {
        finish();
        reject(
          new Error(`${this.label}: no ${pattern} within ${timeoutMs} ms\n${this.describe()}`),
        );
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        stream?.off('data', check);
        this.child.off('close', onExit);
      };
      if (check()) return;
      if (!this.running) {
        onExit();
        return;
      }
      stream?.on('data', check);
      this.child.once('close', onExit);
    });
  }

  /** Waits for the "conveyor <role> ready" line and reads the port from it. */
  async waitForReady(timeoutMs = 60_000): Promise<ReadyInfo> {
    const [, role = '', port] = await this.waitForOutput(READY, timeoutMs);
    return { role, port: port === undefined ? undefined : Number(port) };
  }

  /** Rejects with the process's output when it is still running after the bound. */
  async waitForExit(timeoutMs: number): Promise<ExitResult> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(`${this.label} still running after ${timeoutMs} ms\n${this.describe()}`),
          ),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** SIGKILL (if still running) and wait until the process and its pipes are gone. */
  async kill(): Promise<ExitResult> {
    this.signal('SIGKILL');
    return this.exited;
  }
}

/** The non-blank lines the process wrote to stderr. */
export function stderrLines(proc: ConveyorProcess): string[] {
  return proc.stderr.split('\n').filter((line) => line.trim() !== '');
}

/** Waits for a process that must refuse to start: a non-zero exit and one line on stderr, returned. */
export async function expectOneLineRefusal(
  proc: ConveyorProcess,
  boundMs: number,
): Promise<string> {
  const exit = await proc.waitForExit(boundMs);
  expect(exit.code).not.toBe(0);
  expect(exit.code).not.toBeNull();
  const lines = stderrLines(proc);
  expect(lines).toHaveLength(1);
  return lines[0];
}

export function spawnConveyor(label: string, env: Record<string, string>): ConveyorProcess {
  return new ConveyorProcess(label, env);
}

/** Spawns and waits for the ready line; the process is killed if it never gets ready. */
export async function startConveyor(
  label: string,
  env: Record<string, string>,
  readyTimeoutMs = 60_000,
): Promise<{ proc: ConveyorProcess; ready: ReadyInfo }> {
  const proc = spawnConveyor(label, env);
  try {
    return { proc, ready: await proc.waitForReady(readyTimeoutMs) };
  } catch (error) {
    await proc.kill();
    throw error;
  }
}

/** Kills every child this helper started that is still running (for afterAll). */
export async function killAllConveyors(): Promise<void> {
  await Promise.all([...live].map((proc) => proc.kill()));
}
