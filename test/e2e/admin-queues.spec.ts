import { startStack, type TestStack } from '../support/app';
import {
  AdminApi,
  Api,
  expectError,
  uniqueUser,
  type JobBody,
  type QueueStats,
} from '../support/api';
import { echoKind, otherKind } from '../support/test-kinds';

const COUNTS = ['waiting', 'active', 'prioritized', 'delayed', 'completed', 'failed'] as const;

function queued(stats: QueueStats): number {
  return stats.waiting + stats.prioritized + stats.delayed;
}

describe('admin queues: /api/v1/admin/queues', () => {
  let stack: TestStack;
  let admin: AdminApi;

  beforeAll(async () => {
    stack = await startStack('admin', [echoKind, otherKind]);
    admin = new AdminApi(stack);
  });
  afterAll(() => stack.close());

  it('GET lists every registered kind with its counts', async () => {
    const res = await admin.get('/admin/queues').expect(200);
    const list = res.body as QueueStats[];
    expect(list.map((entry) => entry.kind).sort()).toEqual(['echo', 'other']);
    for (const entry of list) {
      expect(typeof entry.paused).toBe('boolean');
      for (const count of COUNTS) {
        expect(Number.isInteger(entry[count]) && entry[count] >= 0).toBe(true);
      }
      expect(Object.keys(entry).sort()).toEqual(['kind', 'paused', ...COUNTS].sort());
    }
  });

  it('counts completed and failed jobs per kind', async () => {
    const api = new Api(stack, uniqueUser('alice'));
    await admin.idle('echo');
    await admin.idle('other');
    const echoBefore = await admin.stats('echo');
    const otherBefore = await admin.stats('other');
    const ok = await api.submitOk('echo', { text: 'ok' });
    const bad = await api.submitOk('echo', { text: 'bad', fail: 'fatal' });
    await api.waitForStatus(ok.id, ['done']);
    await api.waitForStatus(bad.id, ['error']);
    const echoAfter = await admin.idle('echo');
    expect(echoAfter.completed).toBe(echoBefore.completed + 1);
    expect(echoAfter.failed).toBe(echoBefore.failed + 1);
    expect(await admin.stats('other')).toEqual(otherBefore);
  });

  it('pause keeps jobs queued; resume lets them run', async () => {
    const api = new Api(stack, uniqueUser('alice'));
    const paused = await admin.pause('echo');
    let jobs: JobBody[] = [];
    try {
      expect(paused).toMatchObject({ kind: 'echo', paused: true });
      expect((await admin.stats('echo')).paused).toBe(true);
      jobs = [
        await api.submitOk('echo', { text: 'a' }),
        await api.submitOk('echo', { text: 'b' }, { priority: 'critical' }),
        await api.submitOk('echo', { text: 'c' }, { priority: 'low' }),
      ];

      // Another kind's job completing shows the workers are running while echo waits.
      const probe = await api.submitOk('other', { text: 'probe' });
      await api.waitForStatus(probe.id, ['done']);
      expect((await admin.stats('other')).paused).toBe(false);

      const stats = await admin.stats('echo');
      expect(stats.paused).toBe(true);
      expect(stats.active).toBe(0);
      expect(queued(stats)).toBe(3);
      for (const job of jobs) {
        expect(await api.job(job.id)).toMatchObject({ status: 'queued', attempts: 0 });
        expect((await api.allEvents(job.id)).map((event) => event.status)).toEqual(['created']);
      }
    } finally {
      const resumed = await admin.resume('echo');
      expect(resumed).toMatchObject({ kind: 'echo', paused: false });
    }
    for (const job of jobs) {
      expect(await api.waitForStatus(job.id)).toMatchObject({ status: 'done', attempts: 1 });
    }
    expect(queued(await admin.idle('echo'))).toBe(0);
  });

  it('pausing one kind does not pause another', async () => {
    await admin.pause('other');
    try {
      const list = (await admin.get('/admin/queues').expect(200)).body as QueueStats[];
      expect(list.find((entry) => entry.kind === 'other')?.paused).toBe(true);
      expect(list.find((entry) => entry.kind === 'echo')?.paused).toBe(false);
    } finally {
      await admin.resume('other');
    }
  });

  it('clean with graceMs 0 removes the finished entries (counts drop)', async () => {
    const api = new Api(stack, uniqueUser('alice'));
    const ok = await api.submitOk('echo', { text: 'ok' });
    const bad = await api.submitOk('echo', { text: 'bad', fail: 'fatal' });
    await api.waitForStatus(ok.id, ['done']);
    await api.waitForStatus(bad.id, ['error']);
    const before = await admin.idle('echo');
    expect(before.completed).toBeGreaterThanOrEqual(1);
    expect(before.failed).toBeGreaterThanOrEqual(1);

    const res = await admin.post('/admin/queues/echo/clean', { graceMs: 0 }).expect(200);
    expect(res.body).toEqual({ kind: 'echo', completed: before.completed, failed: before.failed });

    const after = await admin.stats('echo');
    expect(after).toMatchObject({ completed: 0, failed: 0 });
    // only the queue's copies go: the Job rows stay
    expect(await api.job(ok.id)).toMatchObject({ status: 'done' });
    expect(await api.job(bad.id)).toMatchObject({ status: 'error' });
  });

  it('clean with the default grace period keeps recent entries', async () => {
    const api = new Api(stack, uniqueUser('alice'));
    const ok = await api.submitOk('echo', { text: 'recent' });
    await api.waitForStatus(ok.id, ['done']);
    const before = await admin.idle('echo');
    expect(before.completed).toBeGreaterThanOrEqual(1);
    const res = await admin.post('/admin/queues/echo/clean', {}).expect(200);
    expect(res.body).toEqual({ kind: 'echo', completed: 0, failed: 0 });
    expect((await admin.stats('echo')).completed).toBe(before.completed);
  });

  it.each(['pause', 'resume', 'clean'])(
    'POST /admin/queues/:kind/%s answers 404 for an unknown kind',
    async (action) => {
      expectError(await admin.post(`/admin/queues/nope/${action}`, {}), 404, /nope/);
    },
  );

  it.each([
    ['-1', -1, /^graceMs must not be less than 0/],
    ["'x'", 'x', /graceMs must be an integer/],
    ['1.5', 1.5, /graceMs must be an integer/],
  ])('clean answers 400 naming graceMs for graceMs %s', async (_name, graceMs, message) => {
    expectError(await admin.post('/admin/queues/echo/clean', { graceMs }), 400, message);
  });

  it('clean answers 400 for a bad limit and for unknown properties', async () => {
    expectError(await admin.post('/admin/queues/echo/clean', { limit: 0 }), 400, /^limit /);
    expectError(await admin.post('/admin/queues/echo/clean', { force: true }), 400, /^force /);
  });
});
