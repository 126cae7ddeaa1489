import { startStack, TEST_JWT_SECRET, tokenFor, type TestStack } from '../support/app';
import { killAllConveyors, startConveyor } from '../support/conveyor-process';
import { echoKind, type EchoResult } from '../support/test-kinds';
import { waitFor } from '../support/wait';

interface JobBody {
  id: string;
  status: string;
  result: EchoResult | null;
}

/**
 * The api runs in this process and the job in a separate worker process: cancel must reach the
 * worker through Redis and stop the running processor there.
 */
describe('cancel reaches the worker process that runs the job', () => {
  let stack: TestStack;
  const auth = `Bearer ${tokenFor('cancel-user')}`;

  beforeAll(async () => {
    stack = await startStack('xcancel', [echoKind], { APP_ROLE: 'api' });
    await startConveyor('worker', {
      APP_ROLE: 'worker',
      DATABASE_URL: stack.db.url,
      QUEUE_PREFIX: stack.prefix,
      JWT_SECRET: TEST_JWT_SECRET,
      LOG_LEVEL: 'warn',
      PROGRESS_INTERVAL_MS: '0',
      JOB_CONCURRENCY: '1',
    });
  });

  afterAll(async () => {
    await killAllConveyors();
    await stack?.close();
  });

  async function job(id: string): Promise<JobBody> {
    const res = await stack.http().get(`/api/v1/jobs/${id}`).set('Authorization', auth).expect(200);
    return res.body as JobBody;
  }

  async function statuses(id: string): Promise<string[]> {
    const res = await stack
      .http()
      .get(`/api/v1/jobs/${id}/events?limit=1000`)
      .set('Authorization', auth)
      .expect(200);
    return (res.body as { items: { status: string }[] }).items.map((e) => e.status);
  }

  it('stops a running job in the other process: no progress after the cancel, never done', async () => {
    const submitted = await stack
      .http()
      .post('/api/v1/jobs/echo')
      .set('Authorization', auth)
      .send({ projectId: 'p', params: { text: 'long', steps: 1000, stepMs: 20 } })
      .expect(202);
    const id = (submitted.body as JobBody).id;
    await waitFor('the job to report progress', async () =>
      (await statuses(id)).includes('progress'),
    );
    const cancelled = await stack
      .http()
      .post(`/api/v1/jobs/${id}/cancel`)
      .set('Authorization', auth)
      .expect(200);
    expect((cancelled.body as JobBody).status).toBe('cancelled');
    const atCancel = await statuses(id);
    expect(atCancel.at(-1)).toBe('cancelled');

    // A later job finishing on the same single worker shows the cancelled one let go of its slot.
    const next = await stack
      .http()
      .post('/api/v1/jobs/echo')
      .set('Authorization', auth)
      .send({ projectId: 'p', params: { text: 'after' } })
      .expect(202);
    const nextId = (next.body as JobBody).id;
    await waitFor('the next job to finish', async () => (await job(nextId)).status === 'done');

    expect(await statuses(id)).toEqual(atCancel);
    expect((await job(id)).status).toBe('cancelled');
    expect((await job(id)).result).toBeNull();
  });
});
