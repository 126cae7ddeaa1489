import type { Response } from 'supertest';
import { startStack, type TestStack } from '../support/app';
import { Api, expectError, uniqueUser, type JobBody } from '../support/api';
import { echoKind } from '../support/test-kinds';

const LIMIT = 3;
const WINDOW_MS = 60_000;

const minuteOf = (ms: number) => Math.floor(ms / WINDOW_MS);

describe('per-user submit limit (SUBMIT_LIMIT_PER_MINUTE)', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startStack('ratelimit', [echoKind], { SUBMIT_LIMIT_PER_MINUTE: String(LIMIT) });
  });
  afterAll(() => stack.close());

  /**
   * The budget is counted per clock minute. Submits LIMIT + 1 jobs as a fresh user and retries
   * with another fresh user in the rare case the burst straddled a minute boundary, so the
   * assertions always see one window.
   */
  async function burst(label: string): Promise<{ api: Api; responses: Response[] }> {
    for (let tries = 0; tries < 3; tries += 1) {
      const api = new Api(stack, uniqueUser(label));
      const startedAt = Date.now();
      const responses: Response[] = [];
      for (let i = 0; i <= LIMIT; i += 1) {
        responses.push(await api.submit('echo', { projectId: 'p1', params: { text: `n${i}` } }));
      }
      if (minuteOf(startedAt) === minuteOf(Date.now())) return { api, responses };
    }
    throw new Error('every burst straddled a minute boundary');
  }

  async function drain(api: Api, responses: Response[]): Promise<void> {
    for (const res of responses.filter((r) => r.status === 202)) {
      await api.waitForStatus((res.body as JobBody).id);
    }
  }

  it('answers 429 with Retry-After and a JSON error once a user exceeds the limit', async () => {
    const { api, responses } = await burst('limited');
    expect(responses.map((res) => res.status)).toEqual([202, 202, 202, 429]);
    const limited = responses[LIMIT];
    expectError(limited, 429, /submit limit/);
    const retryAfter = limited.headers['retry-after'];
    expect(retryAfter).toMatch(/^\d+$/);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(retryAfter)).toBeLessThanOrEqual(60);

    // the rejected submit created nothing
    const listed = (await api.listAll()).map((job) => job.id).sort();
    const accepted = responses.slice(0, LIMIT).map((res) => (res.body as JobBody).id);
    expect(listed).toEqual([...accepted].sort());
    await drain(api, responses);
  });

  it('does not limit another user', async () => {
    const { api, responses } = await burst('busy');
    expect(responses.at(-1)?.status).toBe(429);
    const other = new Api(stack, uniqueUser('other'));
    const res = await other.submit('echo', { projectId: 'p1', params: { text: 'free' } });
    expect(res.status).toBe(202);
    await other.waitForStatus((res.body as JobBody).id);
    await drain(api, responses);
  });

  it('does not count rejected (400) submits against the limit', async () => {
    for (let tries = 0; tries < 3; tries += 1) {
      const api = new Api(stack, uniqueUser('careless'));
      const startedAt = Date.now();
      for (let i = 0; i < LIMIT + 2; i += 1) {
        await api.submit('echo', { projectId: '', params: { text: 'x' } }).expect(400);
      }
      const responses: Response[] = [];
      for (let i = 0; i < LIMIT; i += 1) {
        responses.push(await api.submit('echo', { projectId: 'p1', params: { text: `n${i}` } }));
      }
      if (minuteOf(startedAt) !== minuteOf(Date.now())) continue;
      expect(responses.map((res) => res.status)).toEqual([202, 202, 202]);
      await drain(api, responses);
      return;
    }
    throw new Error('every attempt straddled a minute boundary');
  });
});
