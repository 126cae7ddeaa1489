import { createServer, type Server } from 'node:http';
import { NonRetryableJobError } from '../../core/job.errors';
import { GITHUB_BODY_LIMIT, GitHubClient, truncateBody } from './github.client';

const TOKEN = 'ghs_unitTestTokenValue123';
const DRAFT = { head: 'feature/x', base: 'main', title: 'T', body: 'B', draft: false };

describe('truncateBody', () => {
  it("keeps a body within GitHub's limit and cuts a longer one to it, saying so", () => {
    expect(truncateBody('short')).toBe('short');
    const exact = 'x'.repeat(GITHUB_BODY_LIMIT);
    expect(truncateBody(exact)).toBe(exact);
    const cut = truncateBody('y'.repeat(GITHUB_BODY_LIMIT + 10));
    expect(cut).toHaveLength(GITHUB_BODY_LIMIT);
    expect(cut.endsWith('…(truncated)')).toBe(true);
  });
});

describe('GitHubClient errors', () => {
  let server: Server;
  let answer: { status: number; body: unknown };
  let baseUrl: string;

  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer.body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const client = () => new GitHubClient({ token: TOKEN, baseUrl, owner: 'acme', repo: 'w' });

  it.each([
    [401, { message: 'Bad credentials' }, 'Bad credentials'],
    [
      403,
      { message: 'Resource not accessible by integration' },
      'Resource not accessible by integration',
    ],
    [404, { message: 'Not Found' }, 'Not Found'],
    [
      422,
      {
        message: 'Validation Failed',
        errors: [{ resource: 'PullRequest', field: 'base', code: 'invalid' }],
      },
      'Validation Failed: base invalid',
    ],
  ])("fails at once on %i with GitHub's message", async (status, body, message) => {
    answer = { status, body };
    const error = (await client()
      .openOrUpdate(DRAFT)
      .catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(NonRetryableJobError);
    expect(error.message).toBe(`GitHub answered ${status} to create the pull request: ${message}`);
  });

  it.each([500, 502, 503])('leaves %i to the retry policy', async (status) => {
    answer = { status, body: { message: 'Server Error' } };
    const error = (await client()
      .addLabels(1, ['x'])
      .catch((e: unknown) => e)) as Error;
    expect(error).not.toBeInstanceOf(NonRetryableJobError);
    expect(error.message).toBe(`GitHub ${status}: could not add the labels: Server Error`);
  });

  it('leaves a network failure to the retry policy, without the token in the message', async () => {
    const closed = new GitHubClient({
      token: TOKEN,
      baseUrl: 'http://127.0.0.1:1',
      owner: 'acme',
      repo: 'w',
    });
    const error = (await closed.openOrUpdate(DRAFT).catch((e: unknown) => e)) as Error;
    expect(error).not.toBeInstanceOf(NonRetryableJobError);
    expect(error.message).toMatch(/^GitHub: could not create the pull request: /);
    expect(error.message).not.toContain(TOKEN);
  });
});
