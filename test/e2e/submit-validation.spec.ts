import { startStack, type TestStack } from '../support/app';
import { AdminApi, Api, expectError, uniqueUser, type JobBody } from '../support/api';
import { echoKind, otherKind } from '../support/test-kinds';

const BODY_LIMIT_BYTES = 2048;

describe('POST /api/v1/jobs/:kind (submit)', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startStack('submit', [echoKind, otherKind], {
      BODY_LIMIT_BYTES: String(BODY_LIMIT_BYTES),
    });
  });
  afterAll(() => stack.close());

  const valid = () => ({ projectId: 'p1', params: { text: 'hello' } });

  describe('accepted', () => {
    it('answers 202 with the queued job and a Location header pointing at it', async () => {
      const api = new Api(stack, uniqueUser('alice'));
      const res = await api.submit('echo', {
        projectId: 'proj-42',
        params: { text: 'hi', steps: 1 },
        priority: 'low',
        requestId: 'req-7',
      });
      expect(res.status).toBe(202);
      const job = res.body as JobBody;
      expect(job.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(res.headers.location).toBe(`/api/v1/jobs/${job.id}`);
      expect(job).toMatchObject({
        kind: 'echo',
        status: 'queued',
        projectId: 'proj-42',
        priority: 'low',
        requestId: 'req-7',
        params: { text: 'hi', steps: 1 },
        progress: 0,
        attempts: 0,
        maxAttempts: 3,
        result: null,
        error: null,
        startedAt: null,
        finishedAt: null,
      });

      const followed = await api.get(res.headers.location.replace('/api/v1', '')).expect(200);
      expect((followed.body as JobBody).id).toBe(job.id);
      await api.waitForStatus(job.id, ['done']);
    });

    it('defaults the priority to medium and the requestId to null', async () => {
      const api = new Api(stack, uniqueUser('alice'));
      const job = await api.submitOk('echo', { text: 'defaults' });
      expect(job).toMatchObject({ priority: 'medium', requestId: null });
      await api.waitForStatus(job.id, ['done']);
    });

    it.each(['critical', 'high', 'medium', 'low'])('accepts priority %s', async (priority) => {
      const api = new Api(stack, uniqueUser('alice'));
      const job = await api.submitOk('echo', { text: priority }, { priority });
      expect(job.priority).toBe(priority);
      await api.waitForStatus(job.id, ['done']);
    });
  });

  describe('rejected', () => {
    it('answers 404 naming the kind for an unknown kind, and creates nothing', async () => {
      const api = new Api(stack, uniqueUser('alice'));
      const res = await api.submit('no-such-kind', valid());
      expectError(res, 404, /no-such-kind/);
      expect(await api.listAll()).toEqual([]);
    });

    const longString = 'x'.repeat(201);
    const badBodies: [string, object, RegExp][] = [
      ['missing projectId', { params: { text: 'a' } }, /projectId must be a string/],
      [
        'empty projectId',
        { projectId: '', params: { text: 'a' } },
        /projectId must be longer than or equal to 1 characters/,
      ],
      [
        'too-long projectId',
        { projectId: longString, params: { text: 'a' } },
        /projectId must be shorter than or equal to 200 characters/,
      ],
      [
        'non-string projectId',
        { projectId: 7, params: { text: 'a' } },
        /projectId must be a string/,
      ],
      ['missing params', { projectId: 'p1' }, /params must be an object/],
      ['string params', { projectId: 'p1', params: 'text' }, /params must be an object/],
      ['array params', { projectId: 'p1', params: [{ text: 'a' }] }, /params must be an object/],
      ['null params', { projectId: 'p1', params: null }, /params must be an object/],
      ['missing params.text', { projectId: 'p1', params: {} }, /params\.text must be a string/],
      [
        'numeric params.text',
        { projectId: 'p1', params: { text: 42 } },
        /params\.text must be a string/,
      ],
      [
        'object params.text',
        { projectId: 'p1', params: { text: { nested: true } } },
        /params\.text must be a string/,
      ],
      [
        'too-long params.text',
        { projectId: 'p1', params: { text: 'y'.repeat(1001) } },
        /params\.text must be shorter than or equal to 1000 characters/,
      ],
      [
        'out-of-range params.steps',
        { projectId: 'p1', params: { text: 'a', steps: -1 } },
        /params\.steps must not be less than 0/,
      ],
      [
        'unknown property in params',
        { projectId: 'p1', params: { text: 'a', bogus: 1 } },
        /params\.bogus (is not an allowed property|should not exist)/,
      ],
      [
        'unknown top-level property',
        { projectId: 'p1', params: { text: 'a' }, extra: true },
        /^extra (is not an allowed property|should not exist)/,
      ],
      [
        'unknown priority',
        { projectId: 'p1', params: { text: 'a' }, priority: 'urgent' },
        /priority must be one of the following values: critical, high, medium, low/,
      ],
      [
        'numeric priority',
        { projectId: 'p1', params: { text: 'a' }, priority: 0 },
        /priority must be one of the following values/,
      ],
      [
        'numeric requestId',
        { projectId: 'p1', params: { text: 'a' }, requestId: 12 },
        /requestId must be a string/,
      ],
      [
        'empty requestId',
        { projectId: 'p1', params: { text: 'a' }, requestId: '' },
        /requestId must be longer than or equal to 1 characters/,
      ],
      [
        'too-long requestId',
        { projectId: 'p1', params: { text: 'a' }, requestId: longString },
        /requestId must be shorter than or equal to 200 characters/,
      ],
    ];

    it.each(badBodies)(
      'answers 400 naming the field for %s, and creates nothing',
      async (_name, body, message) => {
        const api = new Api(stack, uniqueUser('alice'));
        const res = await api.submit('echo', body);
        expectError(res, 400, message);
        expect(await api.listAll()).toEqual([]);
      },
    );

    it('reports every bad field of one body at once', async () => {
      const api = new Api(stack, uniqueUser('alice'));
      const res = await api.submit('echo', { projectId: '', params: { text: 'a' }, priority: 'x' });
      const body = expectError(res, 400);
      expect(body.message).toMatch(/projectId/);
      expect(body.message).toMatch(/priority/);
    });

    it.each([
      ['longer than 200 characters', 'k'.repeat(201)],
      ['containing a space', 'has space'],
      ['empty', ''],
    ])('answers 400 for an Idempotency-Key %s, and creates nothing', async (_name, key) => {
      const api = new Api(stack, uniqueUser('alice'));
      const res = await api.submit('echo', valid(), key);
      expectError(res, 400, /Idempotency-Key must be 1-200 printable ASCII characters/);
      expect(await api.listAll()).toEqual([]);
    });

    it('accepts an Idempotency-Key of exactly 200 characters', async () => {
      const api = new Api(stack, uniqueUser('alice'));
      const res = await api.submit('echo', valid(), 'k'.repeat(200));
      expect(res.status).toBe(202);
      await api.waitForStatus((res.body as JobBody).id, ['done']);
    });

    it('answers 400 for a body that is not valid JSON, and creates nothing', async () => {
      const api = new Api(stack, uniqueUser('alice'));
      const res = await stack
        .http()
        .post('/api/v1/jobs/echo')
        .set('Authorization', api.auth)
        .set('Content-Type', 'application/json')
        .send('{"projectId": "p1", "params": {');
      expectError(res, 400, /not valid JSON/);
      expect(await api.listAll()).toEqual([]);
    });

    it.each([
      ['a JSON array', '[{"projectId":"p1","params":{"text":"a"}}]'],
      ['JSON null', 'null'],
      ['a JSON string', '"projectId"'],
    ])('answers 400 for a body that is %s, and creates nothing', async (_name, raw) => {
      const api = new Api(stack, uniqueUser('alice'));
      const res = await stack
        .http()
        .post('/api/v1/jobs/echo')
        .set('Authorization', api.auth)
        .set('Content-Type', 'application/json')
        .send(raw);
      expectError(res, 400);
      expect(await api.listAll()).toEqual([]);
    });

    it('answers 413 for a body over BODY_LIMIT_BYTES, and creates nothing', async () => {
      const api = new Api(stack, uniqueUser('alice'));
      const body = JSON.stringify({
        projectId: 'p1',
        params: { text: 'z'.repeat(BODY_LIMIT_BYTES) },
      });
      expect(Buffer.byteLength(body)).toBeGreaterThan(BODY_LIMIT_BYTES);
      const res = await stack
        .http()
        .post('/api/v1/jobs/echo')
        .set('Authorization', api.auth)
        .set('Content-Type', 'application/json')
        .send(body);
      expectError(res, 413, new RegExp(`${BODY_LIMIT_BYTES} bytes`));
      expect(await api.listAll()).toEqual([]);
    });

    it('leaves no queue entry behind for any rejected submit', async () => {
      const admin = new AdminApi(stack);
      await admin.idle('echo');
      const before = await admin.stats('echo');
      const api = new Api(stack, uniqueUser('alice'));
      await api.submit('echo', { projectId: '', params: { text: 'a' } }).expect(400);
      await api.submit('echo', { projectId: 'p1', params: { text: 1 } }).expect(400);
      await api.submit('echo', valid(), 'k'.repeat(201)).expect(400);
      const after = await admin.stats('echo');
      expect(after).toEqual(before);
      expect(await api.listAll()).toEqual([]);
    });
  });

  describe('Idempotency-Key', () => {
    it('answers the original job for the same key and the same body; only one job exists', async () => {
      const api = new Api(stack, uniqueUser('alice'));
      const body = { projectId: 'p1', params: { text: 'once', steps: 1 }, priority: 'high' };
      const first = await api.submit('echo', body, 'key-1').expect(202);
      const original = first.body as JobBody;
      const second = await api
        .submit(
          'echo',
          { priority: 'high', params: { steps: 1, text: 'once' }, projectId: 'p1' },
          'key-1',
        )
        .expect(202);
      expect((second.body as JobBody).id).toBe(original.id);
      expect(second.headers.location).toBe(`/api/v1/jobs/${original.id}`);

      await api.waitForStatus(original.id, ['done']);
      const third = await api.submit('echo', body, 'key-1').expect(202);
      expect(third.body).toMatchObject({ id: original.id, status: 'done' });

      const jobs = await api.listAll();
      expect(jobs.map((job) => job.id)).toEqual([original.id]);
    });

    it('creates exactly one job when the same key is submitted concurrently', async () => {
      const api = new Api(stack, uniqueUser('alice'));
      const responses = await Promise.all(
        Array.from({ length: 5 }, () => api.submit('echo', valid(), 'race-key')),
      );
      expect(responses.map((res) => res.status)).toEqual([202, 202, 202, 202, 202]);
      const ids = new Set(responses.map((res) => (res.body as JobBody).id));
      expect(ids.size).toBe(1);
      const jobs = await api.listAll();
      expect(jobs).toHaveLength(1);
      await api.waitForStatus(jobs[0].id, ['done']);
    });

    it('answers 409 for the same key with a different body, and creates nothing', async () => {
      const api = new Api(stack, uniqueUser('alice'));
      const original = (await api.submit('echo', valid(), 'key-2').expect(202)).body as JobBody;
      const variants = [
        { projectId: 'p2', params: { text: 'hello' } },
        { projectId: 'p1', params: { text: 'bye' } },
        { projectId: 'p1', params: { text: 'hello' }, priority: 'low' },
        { projectId: 'p1', params: { text: 'hello' }, requestId: 'r' },
      ];
      for (const variant of variants) {
        const res = await api.submit('echo', variant, 'key-2');
        expectError(res, 409, /Idempotency-Key/);
      }
      expect((await api.listAll()).map((job) => job.id)).toEqual([original.id]);
      await api.waitForStatus(original.id, ['done']);
    });

    it('keeps keys independent between users', async () => {
      const alice = new Api(stack, uniqueUser('alice'));
      const bob = new Api(stack, uniqueUser('bob'));
      const a = (await alice.submit('echo', valid(), 'shared-key').expect(202)).body as JobBody;
      const b = (await bob.submit('echo', valid(), 'shared-key').expect(202)).body as JobBody;
      expect(b.id).not.toBe(a.id);
      // a different body is not a conflict for another user either
      const c = await bob.submit('other', { projectId: 'zz', params: { text: 'x' } }, 'shared-key');
      expect(c.status).toBe(202);
      expect((await alice.listAll()).map((job) => job.id)).toEqual([a.id]);
      expect((await bob.listAll()).map((job) => job.id).sort()).toEqual(
        [b.id, (c.body as JobBody).id].sort(),
      );
      await alice.waitForStatus(a.id, ['done']);
      await bob.waitForStatus(b.id, ['done']);
      await bob.waitForStatus((c.body as JobBody).id, ['done']);
    });

    it('keeps keys independent between kinds of the same user', async () => {
      const api = new Api(stack, uniqueUser('alice'));
      const a = (await api.submit('echo', valid(), 'kind-key').expect(202)).body as JobBody;
      const b = (await api.submit('other', valid(), 'kind-key').expect(202)).body as JobBody;
      expect(b.id).not.toBe(a.id);
      expect(b.kind).toBe('other');
      await api.waitForStatus(a.id, ['done']);
      await api.waitForStatus(b.id, ['done']);
    });

    it('creates a new job on every submit without a key', async () => {
      const api = new Api(stack, uniqueUser('alice'));
      const a = await api.submitOk('echo', { text: 'same' });
      const b = await api.submitOk('echo', { text: 'same' });
      expect(b.id).not.toBe(a.id);
      expect(await api.listAll()).toHaveLength(2);
      await api.waitForStatus(a.id, ['done']);
      await api.waitForStatus(b.id, ['done']);
    });
  });
});
