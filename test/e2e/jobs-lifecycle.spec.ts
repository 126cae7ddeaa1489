import { echoKind } from '../support/test-kinds';
import { startStack, tokenFor, type TestStack } from '../support/app';
import { waitFor } from '../support/wait';

describe('job lifecycle over REST', () => {
  let stack: TestStack;
  const alice = `Bearer ${tokenFor('alice')}`;

  beforeAll(async () => {
    stack = await startStack('lifecycle', [echoKind]);
  });
  afterAll(() => stack.close());

  async function finished(id: string) {
    return waitFor(`job ${id} to finish`, async () => {
      const res = await stack.http().get(`/api/v1/jobs/${id}`).set('Authorization', alice);
      return ['done', 'error', 'cancelled'].includes(res.body.status) ? res.body : undefined;
    });
  }

  it('submits a job, runs it and reports the result, progress and events in order', async () => {
    const res = await stack
      .http()
      .post('/api/v1/jobs/echo')
      .set('Authorization', alice)
      .send({
        projectId: 'p1',
        params: { text: 'hello', steps: 3 },
        priority: 'high',
        requestId: 'r-1',
      })
      .expect(202);
    expect(res.headers.location).toBe(`/api/v1/jobs/${res.body.id}`);
    expect(res.body).toMatchObject({
      kind: 'echo',
      status: 'queued',
      priority: 'high',
      requestId: 'r-1',
    });

    const job = await finished(res.body.id);
    expect(job).toMatchObject({ status: 'done', progress: 100, attempts: 1 });
    expect(job.result).toMatchObject({ text: 'hello', attempt: 1 });
    expect(job.startedAt).not.toBeNull();
    expect(job.finishedAt).not.toBeNull();

    const events = await stack
      .http()
      .get(`/api/v1/jobs/${res.body.id}/events`)
      .set('Authorization', alice)
      .expect(200);
    const statuses = events.body.items.map((e: { status: string }) => e.status);
    expect(statuses).toEqual(['created', 'processing', 'progress', 'progress', 'progress', 'done']);
    const ids = events.body.items.map((e: { eventId: string }) => BigInt(e.eventId));
    expect([...ids].sort((a, b) => (a < b ? -1 : 1))).toEqual(ids);
  });

  it('gives every response a request id, keeping a well-formed one the caller sent', async () => {
    const generated = await stack
      .http()
      .get('/api/v1/jobs')
      .set('Authorization', alice)
      .expect(200);
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const kept = await stack
      .http()
      .get('/api/v1/jobs')
      .set('Authorization', alice)
      .set('x-request-id', 'trace-123')
      .expect(200);
    expect(kept.headers['x-request-id']).toBe('trace-123');
    const replaced = await stack
      .http()
      .get('/api/v1/jobs')
      .set('Authorization', alice)
      .set('x-request-id', 'bad id with spaces')
      .expect(200);
    expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});
