import { spawn, type ChildProcess } from 'node:child_process';

export interface RedisServerOptions {
  /** Keeps an append-only file there (fsync'd at every write), so data survives a SIGKILL. */
  appendOnlyDir?: string;
  /** appendfsync: 'always' by default; 'everysec' is the usual production setting. */
  appendFsync?: 'always' | 'everysec';
}

/** A redis-server child and the tail of what it printed. */
export interface RedisServerChild {
  child: ChildProcess;
  output(): string;
}

/** Spawns redis-server in the foreground with `args`, keeping the last 8000 characters it prints. */
export function spawnRedisServer(args: string[]): RedisServerChild {
  const child = spawn('redis-server', [...args, '--daemonize', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
  });
  let output = '';
  const collect = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-8000));
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  return { child, output: () => output };
}

/**
 * Resolves once the server accepts connections; rejects if it exits first, or after `timeoutMs`
 * (killing it, so that no server is left behind).
 */
export function redisServerReady(
  { child, output }: RedisServerChild,
  name: string,
  timeoutMs = 10_000,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const onData = () => {
      if (/Ready to accept connections/.test(output())) finish(resolve);
    };
    const onClose = () => finish(() => reject(new Error(`${name} exited on start:\n${output()}`)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish(() => reject(new Error(`${name} not ready:\n${output()}`)));
    }, timeoutMs);
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

/** A private redis-server child on a fixed port, so that it can be stopped and restarted. */
export class RedisServer {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

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
    const server = spawnRedisServer(args);
    const { child } = server;
    this.child = child;
    this.exited = new Promise((resolve) => {
      child.once('close', () => {
        if (this.child === child) this.child = undefined;
        resolve();
      });
    });
    return redisServerReady(server, `redis-server ${this.port}`, timeoutMs);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    this.child?.kill(signal);
    await this.exited;
  }
}
