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
  interface Answer {
    status: number;
    body: unknown;
    headers?: Record<string, string>;
  }
  let answer: Answer;
  /** Answered first, one per request, before `answer`. */
  let first: Answer[] = [];
  let requests = 0;
  let baseUrl: string;

  beforeEach(() => {
    first = [];
    requests = 0;
  });

  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      requests += 1;
      const { status, body, headers } = first.shift() ?? answer;
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
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

  const CREATED = {
    status: 201,
    body: { number: 7, html_url: 'https://github.test/acme/w/pull/7' },
  };

  it.each([
    ['a 429 with retry-after', 429, { 'retry-after': '1' }],
    ['a 403 with retry-after (secondary limit)', 403, { 'retry-after': '1' }],
    [
      'a 403 with the primary limit spent until x-ratelimit-reset',
      403,
      { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(Math.ceil(Date.now() / 1000)) },
    ],
  ])('sits out %s and tries again', async (_name, status, headers) => {
    first = [{ status, body: { message: 'API rate limit exceeded' }, headers }];
    answer = CREATED;
    const waits: string[] = [];
    const waiting = new GitHubClient({
      token: TOKEN,
      baseUrl,
      owner: 'acme',
      repo: 'w',
      onWait: (message) => waits.push(message),
    });
    await expect(waiting.openOrUpdate(DRAFT)).resolves.toMatchObject({
      number: 7,
      operation: 'created',
    });
    expect(requests).toBe(2);
    expect(waits).toEqual([
      expect.stringMatching(/^GitHub rate limit: waiting [01] s to create the pull request\n$/),
    ]);
  });

  it('fails at once on a rate limit longer than it waits, saying how long', async () => {
    const reset = String(Math.ceil(Date.now() / 1000) + 3600);
    answer = {
      status: 403,
      body: { message: 'API rate limit exceeded for installation' },
      headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': reset },
    };
    const error = (await client()
      .addLabels(1, ['x'])
      .catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(NonRetryableJobError);
    expect(error.message).toMatch(
      /^GitHub answered 403 to add the labels: rate limited for 3\d{3} s more: API rate limit exceeded/,
    );
    expect(requests).toBe(1);
  });

  it('stops sitting out a rate limit when the job is cancelled', async () => {
    answer = { status: 429, body: { message: 'slow down' }, headers: { 'retry-after': '30' } };
    const controller = new AbortController();
    const aborted = new GitHubClient({
      token: TOKEN,
      baseUrl,
      owner: 'acme',
      repo: 'w',
      signal: controller.signal,
    });
    const call = aborted.addLabels(1, ['x']).catch((e: unknown) => e);
    await waitForRequest();
    controller.abort();
    const error = (await call) as Error;
    expect(error).not.toBeInstanceOf(NonRetryableJobError);
    expect(requests).toBe(1);
  });

  /** Resolves once the server has answered a request (bounded by the test's timeout). */
  function waitForRequest(): Promise<void> {
    return new Promise((resolve) => server.once('request', () => setImmediate(resolve)));
  }

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
