import { JOB_DURATION_BUCKETS } from '../../src/core/job-metrics.service';
import { startStack, type TestStack } from '../support/app';
import { Api, bearer, expectError, uniqueUser } from '../support/api';
import { killAllConveyors, startConveyor } from '../support/conveyor-process';
import { parsePrometheus, sampleValue, type Sample } from '../support/prometheus';
import { TEST_REDIS_URL } from '../support/redis';
import { baseUrl, connectSocket } from '../support/socket';
import { echoKind } from '../support/test-kinds';
import { waitFor } from '../support/wait';
import { TEST_JWT_SECRET, tokenFor } from '../support/app';

const METRICS_TOKEN = 'scrape-token-for-metrics-tests';

/**
 * GET /metrics on an api-only process while a separate worker process runs the jobs: the job
 * series are counted where each job ends (worker or api) and read back from Redis.
 */
describe('GET /metrics', () => {
  let stack: TestStack;
  let api: Api;

  beforeAll(async () => {
    stack = await startStack('metrics', [echoKind], {
      APP_ROLE: 'api',
      METRICS_TOKEN,
    });
    await startConveyor(
      'worker',
      {
        APP_ROLE: 'worker',
        DATABASE_URL: stack.db.url,
        QUEUE_PREFIX: stack.prefix,
        REDIS_URL: TEST_REDIS_URL,
        JWT_SECRET: TEST_JWT_SECRET,
        LOG_LEVEL: 'warn',
        PROGRESS_INTERVAL_MS: '0',
        JOB_ATTEMPTS: '1',
      },
      90_000,
    );
    api = new Api(stack, uniqueUser('metrics'));
  });

  afterAll(async () => {
    await killAllConveyors();
    await stack?.close();
  });

  async function scrape(auth = `Bearer ${METRICS_TOKEN}`): Promise<Sample[]> {
    const res = await stack.http().get('/metrics').set('Authorization', auth).expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    return parsePrometheus(res.text);
  }

  it('refuses anonymous, bad and non-admin callers', async () => {
    expectError(await stack.http().get('/metrics'), 401, /Bearer/);
    expectError(
      await stack.http().get('/metrics').set('Authorization', 'Bearer not-the-token'),
      401,
      /invalid/,
    );
    expectError(
      await stack.http().get('/metrics').set('Authorization', bearer('someone')),
      403,
      /admin/,
    );
    expectError(
      await stack.http().get('/api/v1/metrics').set('Authorization', `Bearer ${METRICS_TOKEN}`),
      404,
    );
  });

  it('admits METRICS_TOKEN and an admin JWT', async () => {
    await scrape();
    await scrape(bearer('root', ['admin']));
  });

  it('counts jobs of each final status, their durations, events and queue states', async () => {
    const before = await scrape();
    expect(sampleValue(before, 'conveyor_jobs_total', { kind: 'echo' })).toBeUndefined();

    const done = await api.submitOk('echo', { text: 'ok' });
    const failed = await api.submitOk('echo', { text: 'bad', fail: 'fatal' });
    const running = await api.submitOk('echo', { text: 'long', steps: 1000, stepMs: 100 });
    await api.waitForStatus(done.id, ['done']);
    await api.waitForStatus(failed.id, ['error']);
    await api.waitForStatus(running.id, ['processing']);
    await api.post(`/jobs/${running.id}/cancel`).expect(200);
    await api.waitForStatus(running.id, ['cancelled']);

    // Counted just after each end is committed, and BullMQ settles its entry just after: wait.
    const samples = await waitFor('the three ends counted and settled', async () => {
      const scraped = await scrape();
      const settled =
        sampleValue(scraped, 'conveyor_job_duration_seconds_count', { kind: 'echo' }) === 3 &&
        sampleValue(scraped, 'conveyor_queue_jobs', { kind: 'echo', state: 'active' }) === 0 &&
        sampleValue(scraped, 'conveyor_queue_jobs', { kind: 'echo', state: 'failed' }) === 1;
      return settled ? scraped : undefined;
    });
    for (const status of ['done', 'error', 'cancelled']) {
      expect(sampleValue(samples, 'conveyor_jobs_total', { kind: 'echo', status })).toBe(1);
    }
    const bucket = (le: string) =>
      sampleValue(samples, 'conveyor_job_duration_seconds_bucket', { kind: 'echo', le });
    expect(sampleValue(samples, 'conveyor_job_duration_seconds_count', { kind: 'echo' })).toBe(3);
    expect(
      sampleValue(samples, 'conveyor_job_duration_seconds_sum', { kind: 'echo' }),
    ).toBeGreaterThan(0);
    expect(bucket('+Inf')).toBe(3);
    const cumulative = JOB_DURATION_BUCKETS.map((le) => bucket(String(le)) ?? NaN);
    expect(cumulative).toEqual([...cumulative].sort((a, b) => a - b));

    expect(sampleValue(samples, 'conveyor_events_total', { kind: 'echo', status: 'created' })).toBe(
      3,
    );
    expect(sampleValue(samples, 'conveyor_events_total', { kind: 'echo', status: 'done' })).toBe(1);
    expect(sampleValue(samples, 'conveyor_events_total', { kind: 'echo', status: 'error' })).toBe(
      1,
    );
    expect(
      sampleValue(samples, 'conveyor_events_total', { kind: 'echo', status: 'cancelled' }),
    ).toBe(1);

    for (const state of ['waiting', 'active', 'prioritized', 'delayed', 'completed', 'failed']) {
      expect(
        sampleValue(samples, 'conveyor_queue_jobs', { kind: 'echo', state }),
      ).toBeGreaterThanOrEqual(0);
    }
    // The done job's entry, and the cancelled one's unless the cancel removed it first.
    const completed = sampleValue(samples, 'conveyor_queue_jobs', {
      kind: 'echo',
      state: 'completed',
    });
    expect([1, 2]).toContain(completed);
    expect(sampleValue(samples, 'conveyor_queue_jobs', { kind: 'echo', state: 'failed' })).toBe(1);
    expect(sampleValue(samples, 'conveyor_queue_paused', { kind: 'echo' })).toBe(0);
  });

  it('has HTTP durations labelled by route pattern, socket connections and process metrics', async () => {
    const socket = await connectSocket(baseUrl(stack.app.getHttpServer()), {
      token: tokenFor(api.user),
    });
    try {
      const samples = await scrape();
      expect(sampleValue(samples, 'conveyor_socket_connections')).toBe(1);
      const submits = sampleValue(samples, 'conveyor_http_request_duration_seconds_count', {
        method: 'POST',
        route: '/api/v1/jobs/:kind',
        status_code: '202',
      });
      expect(submits).toBe(3);
      const jobIds = samples.filter((s) => /[0-9a-f]{8}-/.test(s.labels.route ?? ''));
      expect(jobIds).toEqual([]);
      expect(sampleValue(samples, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
      expect(sampleValue(samples, 'nodejs_heap_size_total_bytes')).toBeGreaterThan(0);
    } finally {
      socket.close();
    }
    await waitFor('the socket to be gone', async () => {
      return sampleValue(await scrape(), 'conveyor_socket_connections') === 0;
    });
  });
});
