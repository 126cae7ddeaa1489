import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';

export interface GitHttpRequest {
  method: string;
  path: string;
  service: string | null;
  /** The Authorization header, as received. */
  authorization: string | undefined;
}

/** What GitHub accepts over HTTPS from a token: Basic, user x-access-token. */
export function basicTokenAuth(token: string): string {
  return `Basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}`;
}

/**
 * A git smart-HTTP server on loopback: a small Node http server that runs git's own
 * `git http-backend` (CGI) per request over the bare repositories under root. Fetching is
 * open unless `private` is set; pushing needs `Authorization: Basic x-access-token:<token>`
 * (401 otherwise).
 */
export class GitSmartHttpServer {
  readonly requests: GitHttpRequest[] = [];
  /** Called on each request before it is answered, while the client's git still runs. */
  onRequest?: (request: GitHttpRequest) => void;
  /** Fetching (clone, fetch, ls-remote) needs the token too, as for a private repository. */
  private = false;
  private readonly sockets = new Set<Socket>();
  private constructor(
    private readonly server: Server,
    private readonly root: string,
    public token: string,
  ) {
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  static async start(root: string, token: string): Promise<GitSmartHttpServer> {
    const server = createServer();
    const self = new GitSmartHttpServer(server, root, token);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => self.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return self;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  /** http://127.0.0.1:<port>/<path> */
  url(path: string): string {
    return `http://127.0.0.1:${this.port}/${path}`;
  }

  pushes(): GitHttpRequest[] {
    return this.requests.filter((r) => r.service === 'git-receive-pack');
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const service = url.pathname.endsWith('/git-receive-pack')
      ? 'git-receive-pack'
      : url.pathname.endsWith('/git-upload-pack')
        ? 'git-upload-pack'
        : url.searchParams.get('service');
    const authorization = req.headers.authorization;
    const request = { method: req.method ?? 'GET', path: url.pathname, service, authorization };
    this.requests.push(request);
    this.onRequest?.(request);
    const authorized = authorization === basicTokenAuth(this.token);
    if ((service === 'git-receive-pack' || this.private) && !authorized) {
      req.resume();
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="fixture"' }).end('unauthorized\n');
      return;
    }
    const header = (name: string) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value.join(', ') : (value ?? '');
    };
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: tmpdir(),
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_PROJECT_ROOT: this.root,
      GIT_HTTP_EXPORT_ALL: '1',
      PATH_INFO: decodeURIComponent(url.pathname),
      REQUEST_METHOD: req.method ?? 'GET',
      QUERY_STRING: url.search.replace(/^\?/, ''),
      CONTENT_TYPE: header('content-type'),
      REMOTE_ADDR: '127.0.0.1',
      GATEWAY_INTERFACE: 'CGI/1.1',
      ...(authorized && { REMOTE_USER: 'x-access-token' }),
      ...(header('content-length') !== '' && { CONTENT_LENGTH: header('content-length') }),
      ...(header('content-encoding') !== '' && {
        HTTP_CONTENT_ENCODING: header('content-encoding'),
      }),
      ...(header('git-protocol') !== '' && { GIT_PROTOCOL: header('git-protocol') }),
    };
    const child = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'ignore'] });
    req.pipe(child.stdin);
    child.stdin.on('error', () => undefined);
    let head = Buffer.alloc(0);
    let started = false;
    child.stdout.on('data', (chunk: Buffer) => {
      if (started) {
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const text = head.toString('latin1');
      const match = /\r?\n\r?\n/.exec(text);
      if (!match) return;
      started = true;
      const headers: Record<string, string> = {};
      let status = 200;
      for (const line of text.slice(0, match.index).split(/\r?\n/)) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon).trim();
        const value = line.slice(colon + 1).trim();
        if (name.toLowerCase() === 'status') status = Number(value.split(' ')[0]);
        else headers[name] = value;
      }
      res.writeHead(status, headers);
      res.write(head.subarray(match.index + match[0].length));
    });
    child.on('close', () => {
      if (!started) res.writeHead(500);
      res.end();
    });
    child.on('error', () => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  }
}
