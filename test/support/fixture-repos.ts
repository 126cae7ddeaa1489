import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, normalize } from 'node:path';

/** Git as the tests run it: no user or system config, a fixed author, never a prompt. */
const GIT_ENV: NodeJS.ProcessEnv = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: tmpdir(),
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_TERMINAL_PROMPT: '0',
  GIT_AUTHOR_NAME: 'Fixture',
  GIT_AUTHOR_EMAIL: 'fixture@example.com',
  GIT_COMMITTER_NAME: 'Fixture',
  GIT_COMMITTER_EMAIL: 'fixture@example.com',
  LANG: 'C',
};

export function git(args: string[], cwd?: string): string {
  return execFileSync('git', args, { cwd, env: GIT_ENV, encoding: 'utf8' });
}

/** Writes the files (paths relative to dir), creating their directories. */
export function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
}

export interface RepoOptions {
  /** The branch the first commit lands on (the bare clone's HEAD). Default main. */
  branch?: string;
  /** Further branches, each with one more commit adding the given files. */
  branches?: Record<string, Record<string, string>>;
}

/** `git init` + one commit of the files in dir/source, then `git clone --bare` to dir/name.git. */
export function makeBareRepo(
  dir: string,
  name: string,
  files: Record<string, string>,
  options: RepoOptions = {},
): string {
  const source = join(dir, `${name}-source`);
  const branch = options.branch ?? 'main';
  mkdirSync(source, { recursive: true });
  git(['init', '--quiet', '--initial-branch', branch], source);
  writeFiles(source, files);
  git(['add', '--all'], source);
  git(['commit', '--quiet', '--allow-empty', '-m', `fixture ${name}`], source);
  for (const [other, extra] of Object.entries(options.branches ?? {})) {
    git(['checkout', '--quiet', '-b', other, branch], source);
    writeFiles(source, extra);
    git(['add', '--all'], source);
    git(['commit', '--quiet', '-m', `fixture ${name} on ${other}`], source);
  }
  git(['checkout', '--quiet', branch], source);
  const bare = join(dir, `${name}.git`);
  git(['clone', '--quiet', '--bare', source, bare]);
  // Lets the dumb HTTP transport serve it as well.
  git(['update-server-info'], bare);
  return bare;
}

/**
 * An https git server over the "dumb" protocol (static files of bare repositories), with a
 * self-signed certificate. Requests can be held to keep a clone in progress, and paths under
 * /private/ answer 401 as a repository needing credentials does.
 */
export class GitHttpsServer {
  readonly caFile: string;
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private holding = false;
  private held: (() => void)[] = [];
  /** Paths requested, in order. */
  readonly requests: string[] = [];

  private constructor(
    private readonly root: string,
    private readonly key: string,
    private readonly cert: string,
    dir: string,
  ) {
    this.caFile = join(dir, 'ca.pem');
    writeFileSync(this.caFile, cert);
  }

  /** Serves the bare repositories under root at https://127.0.0.1:<port>/<name>.git. */
  static async start(root: string, dir: string): Promise<GitHttpsServer> {
    const keyFile = join(dir, 'key.pem');
    const certFile = join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        keyFile,
        '-out',
        certFile,
        '-days',
        '2',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    const server = new GitHttpsServer(
      root,
      readFileSync(keyFile, 'utf8'),
      readFileSync(certFile, 'utf8'),
      dir,
    );
    await server.listen();
    return server;
  }

  get port(): number {
    return (this.server?.address() as { port: number }).port;
  }

  url(path: string): string {
    return `https://127.0.0.1:${this.port}/${path}`;
  }

  /** From now on, requests wait until release(). */
  hold(): void {
    this.holding = true;
  }

  /** Answers the held requests and stops holding. */
  release(): void {
    this.holding = false;
    const waiting = this.held;
    this.held = [];
    waiting.forEach((answer) => answer());
  }

  get heldCount(): number {
    return this.held.length;
  }

  /**
   * Makes git trust this server's certificate: git runs with HOME=<workspacesDir>/.home, so
   * its ~/.gitconfig there names the certificate (as an operator would for an internal CA).
   */
  trustFrom(gitHomeDir: string): void {
    mkdirSync(gitHomeDir, { recursive: true });
    writeFileSync(join(gitHomeDir, '.gitconfig'), `[http]\n\tsslCAInfo = ${this.caFile}\n`);
  }

  async close(): Promise<void> {
    this.release();
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server?.close(resolve));
  }

  private listen(): Promise<void> {
    this.server = createServer({ key: this.key, cert: this.cert }, (req, res) =>
      this.handle(req, res),
    );
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    return new Promise((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/');
    this.requests.push(path);
    const answer = () => this.answer(path, res);
    if (this.holding) this.held.push(answer);
    else answer();
  }

  private answer(path: string, res: ServerResponse): void {
    if (res.destroyed) return;
    if (path.startsWith('/private/')) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="fixture"' }).end();
      return;
    }
    const file = normalize(join(this.root, path));
    if (!file.startsWith(`${this.root}/`)) {
      res.writeHead(403).end();
      return;
    }
    try {
      const body = readFileSync(file);
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  }
}
