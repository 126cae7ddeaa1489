import { execFileSync } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';

export interface FakePull {
  number: number;
  owner: string;
  repo: string;
  state: 'open' | 'closed';
  title: string;
  body: string | null;
  draft: boolean;
  head: string;
  base: string;
  headSha: string;
  labels: string[];
  reviewers: string[];
  teamReviewers: string[];
  assignees: string[];
}

export interface GitHubRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
  authorization: string | undefined;
}

interface Fault {
  method: string;
  path: RegExp;
  status: number;
  body: unknown;
}

const DOCS = 'https://docs.github.com/rest';

/**
 * A loopback server speaking the part of GitHub's REST API that pr-creation uses, with the
 * shapes of GitHub's OpenAPI description: create (201, or 422 "A pull request already exists"),
 * list with head/base filters, update, labels, requested reviewers, assignees; 401 "Bad
 * credentials" for any other token. The head branch must exist in the bare repository
 * <reposRoot>/<owner>/<repo>.git, as GitHub requires.
 */
export class GitHubApiServer {
  readonly pulls: FakePull[] = [];
  readonly requests: GitHubRequest[] = [];
  private readonly faults: Fault[] = [];
  private readonly sockets = new Set<Socket>();
  private next = 1;

  private constructor(
    private readonly server: Server,
    private readonly reposRoot: string,
    public token: string,
  ) {
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  static async start(reposRoot: string, token: string): Promise<GitHubApiServer> {
    const server = createServer();
    const self = new GitHubApiServer(server, reposRoot, token);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void self.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return self;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  /** The next request matching method and path is answered with status and body. */
  failNext(method: string, path: RegExp, status: number, body: unknown): void {
    this.faults.push({ method, path, status, body });
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    let body: unknown = null;
    try {
      body = text === '' ? null : JSON.parse(text);
    } catch {
      return send(res, 400, { message: 'Problems parsing JSON', documentation_url: DOCS });
    }
    this.requests.push({
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      body,
      authorization: req.headers.authorization,
    });
    const auth = req.headers.authorization;
    if (auth !== `token ${this.token}` && auth !== `Bearer ${this.token}`) {
      return send(res, 401, { message: 'Bad credentials', documentation_url: DOCS, status: '401' });
    }
    const fault = this.faults.findIndex((f) => f.method === method && f.path.test(url.pathname));
    if (fault >= 0) {
      const [{ status, body: faultBody }] = this.faults.splice(fault, 1);
      return send(res, status, faultBody);
    }
    const match = /^\/repos\/([^/]+)\/([^/]+)\/(pulls|issues)(?:\/(\d+))?(?:\/([a-z_]+))?$/.exec(
      url.pathname,
    );
    if (!match) return send(res, 404, { message: 'Not Found', documentation_url: DOCS });
    const [, owner, repo, collection, number, action] = match;
    const input = (body ?? {}) as Record<string, unknown>;
    if (collection === 'pulls' && number === undefined) {
      if (method === 'GET') return this.list(res, owner, repo, url.searchParams);
      if (method === 'POST') return this.create(res, owner, repo, input);
    }
    const pull = this.pulls.find(
      (p) => p.owner === owner && p.repo === repo && p.number === Number(number),
    );
    if (!pull) return send(res, 404, { message: 'Not Found', documentation_url: DOCS });
    const strings = (key: string) => (Array.isArray(input[key]) ? (input[key] as string[]) : []);
    if (collection === 'pulls' && method === 'PATCH' && action === undefined) {
      if (typeof input.title === 'string') pull.title = input.title;
      if (typeof input.body === 'string') pull.body = input.body;
      return send(res, 200, this.view(pull));
    }
    if (collection === 'pulls' && method === 'POST' && action === 'requested_reviewers') {
      pull.reviewers = [...new Set([...pull.reviewers, ...strings('reviewers')])];
      pull.teamReviewers = [...new Set([...pull.teamReviewers, ...strings('team_reviewers')])];
      return send(res, 201, this.view(pull));
    }
    if (collection === 'issues' && method === 'POST' && action === 'labels') {
      pull.labels = [...new Set([...pull.labels, ...strings('labels')])];
      return send(
        res,
        200,
        pull.labels.map((name, id) => ({ id, name, color: 'ededed', default: false })),
      );
    }
    if (collection === 'issues' && method === 'POST' && action === 'assignees') {
      pull.assignees = [...new Set([...pull.assignees, ...strings('assignees')])];
      return send(res, 201, { ...this.view(pull), pull_request: { url: '' } });
    }
    send(res, 404, { message: 'Not Found', documentation_url: DOCS });
  }

  private list(res: ServerResponse, owner: string, repo: string, query: URLSearchParams): void {
    const state = query.get('state') ?? 'open';
    const head = query.get('head');
    const base = query.get('base');
    const found = this.pulls.filter(
      (p) =>
        p.owner === owner &&
        p.repo === repo &&
        (state === 'all' || p.state === state) &&
        (head === null || `${p.owner}:${p.head}` === head) &&
        (base === null || p.base === base),
    );
    send(
      res,
      200,
      found.map((p) => this.view(p)),
    );
  }

  private create(
    res: ServerResponse,
    owner: string,
    repo: string,
    input: Record<string, unknown>,
  ): void {
    const { title, head, base } = input;
    if (typeof title !== 'string' || typeof head !== 'string' || typeof base !== 'string') {
      return validationFailed(res, [{ resource: 'PullRequest', code: 'missing_field' }]);
    }
    const headSha = this.branchSha(owner, repo, head);
    if (headSha === null) {
      return validationFailed(res, [{ resource: 'PullRequest', field: 'head', code: 'invalid' }]);
    }
    const open = this.pulls.find(
      (p) =>
        p.owner === owner &&
        p.repo === repo &&
        p.state === 'open' &&
        p.head === head &&
        p.base === base,
    );
    if (open) {
      return validationFailed(res, [
        {
          resource: 'PullRequest',
          code: 'custom',
          message: `A pull request already exists for ${owner}:${head}.`,
        },
      ]);
    }
    const pull: FakePull = {
      number: this.next++,
      owner,
      repo,
      state: 'open',
      title,
      body: typeof input.body === 'string' ? input.body : null,
      draft: input.draft === true,
      head,
      base,
      headSha,
      labels: [],
      reviewers: [],
      teamReviewers: [],
      assignees: [],
    };
    this.pulls.push(pull);
    send(res, 201, this.view(pull));
  }

  private branchSha(owner: string, repo: string, branch: string): string | null {
    try {
      return execFileSync('git', ['rev-parse', '--verify', '--quiet', `refs/heads/${branch}`], {
        cwd: join(this.reposRoot, owner, `${repo}.git`),
        encoding: 'utf8',
      }).trim();
    } catch {
      return null;
    }
  }

  private view(p: FakePull): Record<string, unknown> {
    const api = `${this.url}/repos/${p.owner}/${p.repo}`;
    return {
      url: `${api}/pulls/${p.number}`,
      id: 1000 + p.number,
      node_id: `PR_${p.number}`,
      html_url: `https://github.test/${p.owner}/${p.repo}/pull/${p.number}`,
      number: p.number,
      state: p.state,
      locked: false,
      title: p.title,
      body: p.body,
      draft: p.draft,
      user: { login: 'conveyor-bot', id: 1, type: 'Bot' },
      labels: p.labels.map((name, id) => ({ id, name })),
      assignees: p.assignees.map((login) => ({ login })),
      requested_reviewers: p.reviewers.map((login) => ({ login })),
      requested_teams: p.teamReviewers.map((slug) => ({ slug })),
      head: { label: `${p.owner}:${p.head}`, ref: p.head, sha: p.headSha },
      base: { label: `${p.owner}:${p.base}`, ref: p.base, sha: '' },
      created_at: new Date(0).toISOString(),
      updated_at: new Date().toISOString(),
    };
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

function validationFailed(res: ServerResponse, errors: object[]): void {
  send(res, 422, {
    message: 'Validation Failed',
    errors,
    documentation_url: 'https://docs.github.com/rest/pulls/pulls#create-a-pull-request',
    status: '422',
  });
}
