import { spawn, type ChildProcess } from 'node:child_process';

export interface RedisServerOptions {
  /** Keeps an append-only file there (fsync'd at every write), so data survives a SIGKILL. */
  appendOnlyDir?: string;
  /** appendfsync: 'always' by default; 'everysec' is the usual production setting. */
  appendFsync?: 'always' | 'everysec';
}

/** A private redis-server child on a fixed port, so that it can be stopped and restarted. */
export class RedisServer {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private output = '';

  constructor(
    readonly port: number,
    private readonly options: RedisServerOptions = {},
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  start(timeoutMs = 10_000): Promise<void> {
    const { appendOnlyDir, appendFsync = 'always' } = this.options;
    const persistence = appendOnlyDir
      ? ['--appendonly', 'yes', '--appendfsync', appendFsync, '--dir', appendOnlyDir]
      : ['--appendonly', 'no'];
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', ...persistence];
    const child = spawn('redis-server', [...args, '--daemonize', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    });
    this.child = child;
    this.output = '';
    const collect = (chunk: Buffer) =>
      (this.output = (this.output + chunk.toString()).slice(-8000));
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    this.exited = new Promise((resolve) => {
      child.once('close', () => {
        if (this.child === child) this.child = undefined;
        resolve();
      });
    });
    return new Promise((resolve, reject) => {
      const onData = () => {
        if (/Ready to accept connections/.test(this.output)) finish(resolve);
      };
      const onClose = () =>
        finish(() => reject(new Error(`redis-server exited on start:\n${this.output}`)));
      const timer = setTimeout(
        () => finish(() => reject(new Error(`redis-server not ready:\n${this.output}`))),
        timeoutMs,
      );
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.off('close', onClose);
        settle();
      };
      child.stdout?.on('data', onData);
      child.once('close', onClose);
    });
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    this.child?.kill(signal);
    await this.exited;
  }
}
