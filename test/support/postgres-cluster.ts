import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';

const run = promisify(execFile);
const BIN = process.env.PG_BIN_DIR ?? '/usr/lib/postgresql/15/bin';
/** PostgreSQL refuses to run as root: as root the cluster is owned by, and run as, this user. */
const OS_USER = 'postgres';

function asOwner(command: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0
    ? ['runuser', ['-u', OS_USER, '--', command, ...args]]
    : [command, args];
}

/** A private PostgreSQL cluster (initdb into a temporary directory) on a port of its own. */
export class PostgresCluster {
  private readonly dir = mkdtempSync(join(tmpdir(), 'conveyor-pg-'));
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private output = '';

  constructor(readonly port: number) {}

  get url(): string {
    return `postgresql://postgres@127.0.0.1:${this.port}/conveyor`;
  }

  private get data(): string {
    return join(this.dir, 'data');
  }

  async init(): Promise<void> {
    if (process.getuid?.() === 0) {
      const { stdout } = await run('id', ['-u', OS_USER]);
      const uid = Number(stdout.trim());
      chownSync(this.dir, uid, uid);
    }
    const [cmd, args] = asOwner(join(BIN, 'initdb'), [
      '-D',
      this.data,
      '-A',
      'trust',
      '-U',
      'postgres',
      '-E',
      'UTF8',
      '--no-sync',
    ]);
    await run(cmd, args);
    await this.start();
    const client = new Client({
      connectionString: `postgresql://postgres@127.0.0.1:${this.port}/postgres`,
    });
    await client.connect();
    await client.query('CREATE DATABASE conveyor');
    await client.end();
  }

  /** Starts the postmaster in the foreground (a child of this process) and waits until it answers. */
  async start(timeoutMs = 30_000): Promise<void> {
    const [cmd, args] = asOwner(join(BIN, 'postgres'), [
      '-D',
      this.data,
      '-p',
      String(this.port),
      '-k',
      this.dir,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'max_connections=200',
    ]);
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
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
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.child) throw new Error(`postgres exited on start:\n${this.output}`);
      const client = new Client({
        connectionString: `postgresql://postgres@127.0.0.1:${this.port}/postgres`,
      });
      try {
        await client.connect();
        await client.end();
        return;
      } catch {
        await client.end().catch(() => undefined);
        if (Date.now() > deadline) throw new Error(`postgres not ready:\n${this.output}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  /** Fast shutdown (SIGINT to the postmaster: sessions are ended, then it exits cleanly). */
  async stop(): Promise<void> {
    if (!this.child) return;
    const [cmd, args] = asOwner(join(BIN, 'pg_ctl'), ['-D', this.data, '-m', 'fast', '-w', 'stop']);
    await run(cmd, args).catch(() => this.child?.kill('SIGINT'));
    await this.exited;
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
