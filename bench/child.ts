import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

const TAIL_CHARS = 4000;

const live = new Set<Child>();

// Whatever happens to the driver, nothing it started outlives it.
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** A child process whose output is kept (its tail) and can be waited on, always with a bound. */
export class Child {
  readonly process: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private out = '';
  private err = '';
  private lineBuffer = '';
  private done = false;
  private readonly group: boolean;

  constructor(
    readonly label: string,
    command: string,
    args: string[],
    options: Omit<SpawnOptions, 'stdio' | 'detached'> & {
      onLine?: (line: string) => void;
      /** Start it in its own process group and signal the whole group. */
      group?: boolean;
    },
  ) {
    this.group = options.group === true;
    this.process = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      detached: options.group === true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (this.process.pid === undefined) throw new Error(`${label}: spawn failed`);
    this.pid = this.process.pid;
    live.add(this);
    this.process.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.out = (this.out + chunk).slice(-TAIL_CHARS * 4);
      if (!options.onLine) return;
      const lines = (this.lineBuffer + chunk).split('\n');
      this.lineBuffer = lines.pop() ?? '';
      lines.forEach((line) => options.onLine?.(line));
    });
    this.process.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.err = (this.err + chunk).slice(-TAIL_CHARS * 4);
    });
    this.exited = new Promise((resolve) => {
      this.process.once('close', (code, signal) => {
        this.done = true;
        live.delete(this);
        if (this.lineBuffer !== '') options.onLine?.(this.lineBuffer);
        resolve({ code, signal });
      });
    });
  }

  get running(): boolean {
    return !this.done;
  }

  get stdout(): string {
    return this.out;
  }

  get stderr(): string {
    return this.err;
  }

  describe(): string {
    return (
      `${this.label} (pid ${this.pid}, ${this.running ? 'running' : 'exited'})\n` +
      `--- stdout (tail) ---\n${this.out.slice(-TAIL_CHARS)}\n` +
      `--- stderr (tail) ---\n${this.err.slice(-TAIL_CHARS)}`
    );
  }

  /** Resolves with the first stdout match; rejects when the process exits or the bound passes. */
  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const finish = (error?: Error, match?: RegExpMatchArray) => {
        clearTimeout(timer);
        clearInterval(poll);
        if (error) reject(error);
        else if (match) resolve(match);
      };
      const timer = setTimeout(
        () =>
          finish(
            new Error(`${this.label}: no ${pattern} within ${timeoutMs} ms\n${this.describe()}`),
          ),
        timeoutMs,
      );
      const poll = setInterval(() => {
        const match = pattern.exec(this.out);
        if (match) finish(undefined, match);
        else if (!this.running) finish(new Error(`${this.label} exited\n${this.describe()}`));
      }, 50);
    });
  }

  kill(signal: NodeJS.Signals): void {
    if (!this.running) return;
    try {
      // A process group (group: true) is signalled whole: the script and what it started.
      if (this.group) process.kill(-this.pid, signal);
      else this.process.kill(signal);
    } catch {
      // already gone
    }
  }

  /** SIGTERM, then SIGKILL when it is still running after `graceMs`. */
  async stop(graceMs: number): Promise<boolean> {
    if (!this.running) return true;
    this.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const graceful = await Promise.race([
      this.exited.then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), graceMs))),
    ]);
    clearTimeout(timer);
    if (!graceful) {
      this.kill('SIGKILL');
      await Promise.race([this.exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
    }
    return graceful;
  }
}
