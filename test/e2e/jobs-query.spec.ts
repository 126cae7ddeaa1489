import { JobRepository } from '../../src/core/job.repository';
import { startStack, type TestStack } from '../support/app';
import {
  AdminApi,
  Api,
  expectError,
  uniqueUser,
  type EventBody,
  type JobBody,
} from '../support/api';
import { echoKind, otherKind } from '../support/test-kinds';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Newest first: createdAt descending, ties broken by id descending (the API's documented order). */
function newestFirst(jobs: JobBody[]): string[] {
  return [...jobs]
    .sort((a, b) =>
      a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1,
    )
    .map((job) => job.id);
}

/** Bad `after`/`limit` values: both event feeds answer each with a 400 naming the field. */
const badEventQueries: [string, Record<string, string>, RegExp][] = [
  ['after=x', { after: 'x' }, /^after must be an eventId/],
  ['after=-1', { after: '-1' }, /^after must be an eventId/],
  ['after=1.5', { after: '1.5' }, /^after must be an eventId/],
  ['an empty after', { after: '' }, /^after must be an eventId/],
  ['a 19-digit after', { after: '1'.repeat(19) }, /^after must be an eventId/],
  ['limit=0', { limit: '0' }, /^limit must not be less than 1/],
  ['limit=1001', { limit: '1001' }, /^limit must not be greater than 1000/],
  ['limit=x', { limit: 'x' }, /limit must be an integer/],
];

describe('reading jobs: GET /jobs/:id, GET /jobs, GET /jobs/:id/events, GET /events', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startStack('query', [echoKind, otherKind]);
  });
  afterAll(() => stack.close());

  async function submitSequentially(api: Api, count: number, kind = 'echo'): Promise<JobBody[]> {
    const jobs: JobBody[] = [];
    for (let i = 0; i < count; i += 1) jobs.push(await api.submitOk(kind, { text: `job ${i}` }));
    return jobs;
  }

  async function allFinished(api: Api, jobs: JobBody[]): Promise<JobBody[]> {
    return Promise.all(jobs.map((job) => api.waitForStatus(job.id)));
  }

  describe('GET /jobs/:id', () => {
    it('reports status, progress, message, result, error, attempts and timestamps', async () => {
      const api = new Api(stack, uniqueUser('alice'));
      const submitted = await api.submitOk(
        'echo',
        { text: 'poll me', steps: 2 },
        { requestId: 'r1' },
      );
      const job = await api.waitForStatus(submitted.id, ['done']);
      expect(job).toMatchObject({
        id: submitted.id,
        kind: 'echo',
        status: 'done',
        priority: 'medium',
        progress: 100,
        message: 'done',
        projectId: 'p1',
        requestId: 'r1',
        params: { text: 'poll me', steps: 2 },
        result: { text: 'poll me', attempt: 1 },
        error: null,
        attempts: 1,
        maxAttempts: 3,
      });
      for (const at of [job.createdAt, job.startedAt, job.finishedAt, job.updatedAt]) {
        expect(at).toMatch(ISO);
      }
      expect(job.createdAt).toBe(submitted.createdAt);
      expect(Date.parse(job.startedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(job.createdAt));
      expect(Date.parse(job.finishedAt ?? '')).toBeGreaterThanOrEqual(
        Date.parse(job.startedAt ?? ''),
      );
    });

    it('reports the error of a failed job', async () => {
      const api = new Api(stack, uniqueUser('alice'));
      const submitted = await api.submitOk('echo', { text: 'broken', fail: 'fatal' });
      const job = await api.waitForStatus(submitted.id);
      expect(job).toMatchObject({ status: 'error', error: 'fatal: broken', result: null });
      expect(job.finishedAt).toMatch(ISO);
    });
  });

  describe('GET /jobs', () => {
    it('lists the caller’s jobs newest first', async () => {
      const api = new Api(stack, uniqueUser('alice'));
      const jobs = await submitSequentially(api, 5);
      const createdAt = jobs.map((job) => Date.parse(job.createdAt));
      expect([...createdAt].sort((a, b) => a - b)).toEqual(createdAt);

      const page = await api.list();
      expect(page.nextCursor).toBeNull();
      expect(page.items.map((job) => job.id)).toEqual(newestFirst(jobs));
      expect(new Set(page.items.map((job) => job.id))).toEqual(new Set(jobs.map((job) => job.id)));
      await allFinished(api, jobs);
    });

    it('walks every job with limit=2 cursor pagination, without duplicates', async () => {
      const api = new Api(stack, uniqueUser('alice'));
      const jobs = await submitSequentially(api, 5);
      const pages: string[][] = [];
      let cursor: string | null = null;
      do {
        const page = await api.list({ limit: 2, ...(cursor !== null && { cursor }) });
        pages.push(page.items.map((job) => job.id));
        cursor = page.nextCursor;
        expect(pages.length).toBeLessThanOrEqual(3);
      } while (cursor !== null);
      expect(pages.map((page) => page.length)).toEqual([2, 2, 1]);
      const walked = pages.flat();
      expect(new Set(walked).size).toBe(5);
      expect(walked).toEqual(newestFirst(jobs));
      await allFinished(api, jobs);
    });

    it('answers nextCursor null when the last page is exactly full', async () => {
      const api = new Api(stack, uniqueUser('alice'));
      const jobs = await submitSequentially(api, 4);
      const first = await api.list({ limit: 2 });
      expect(first.items).toHaveLength(2);
      expect(first.nextCursor).toEqual(expect.any(String));
      const second = await api.list({ limit: 2, cursor: first.nextCursor ?? '' });
      expect(second.items).toHaveLength(2);
      expect(second.nextCursor).toBeNull();
      const whole = await api.list({ limit: 4 });
      expect(whole.nextCursor).toBeNull();
      await allFinished(api, jobs);
    });

    it('filters by kind and by status, and by both', async () => {
      const api = new Api(stack, uniqueUser('alice'));
      const echoDone = await submitSequentially(api, 2, 'echo');
      const otherDone = await api.submitOk('other', { text: 'other' });
      const echoError = await api.submitOk('echo', { text: 'bad', fail: 'fatal' });
      await allFinished(api, [...echoDone, otherDone, echoError]);

      const ids = async (query: Record<string, string>) =>
        (await api.listAll(query)).map((job) => job.id).sort();

      expect(await ids({ kind: 'other' })).toEqual([otherDone.id]);
      expect(await ids({ kind: 'echo' })).toEqual([...echoDone, echoError].map((j) => j.id).sort());
      expect(await ids({ status: 'error' })).toEqual([echoError.id]);
      expect(await ids({ status: 'done' })).toEqual(
        [...echoDone, otherDone].map((j) => j.id).sort(),
      );
      expect(await ids({ kind: 'echo', status: 'done' })).toEqual(echoDone.map((j) => j.id).sort());
      expect(await ids({ kind: 'other', status: 'error' })).toEqual([]);
      expect(await ids({ status: 'cancelled' })).toEqual([]);
    });

    it('filters queued jobs while their queue is paused', async () => {
      const api = new Api(stack, uniqueUser('alice'));
      const admin = new AdminApi(stack);
      await admin.pause('other');
      let waiting: JobBody | undefined;
      try {
        waiting = await api.submitOk('other', { text: 'waits' });
        const queued = await api.listAll({ status: 'queued' });
        expect(queued.map((job) => job.id)).toEqual([waiting.id]);
      } finally {
        await admin.resume('other');
      }
      await api.waitForStatus(waiting.id, ['done']);
      expect(await api.listAll({ status: 'queued' })).toEqual([]);
    });

    it('lists only the caller’s jobs', async () => {
      const alice = new Api(stack, uniqueUser('alice'));
      const bob = new Api(stack, uniqueUser('bob'));
      const aliceJobs = await submitSequentially(alice, 2);
      const bobJobs = await submitSequentially(bob, 1);
      expect((await alice.listAll()).map((job) => job.id).sort()).toEqual(
        aliceJobs.map((job) => job.id).sort(),
      );
      expect((await bob.listAll()).map((job) => job.id)).toEqual([bobJobs[0]?.id]);
      await allFinished(alice, aliceJobs);
      await allFinished(bob, bobJobs);
    });

    it('answers an empty page for a user without jobs', async () => {
      const api = new Api(stack, uniqueUser('nobody'));
      expect(await api.list()).toEqual({ items: [], nextCursor: null });
    });

    const badQueries: [string, Record<string, string>, RegExp][] = [
      ['limit=0', { limit: '0' }, /^limit must not be less than 1/],
      ['limit=101', { limit: '101' }, /^limit must not be greater than 100/],
      ['limit=x', { limit: 'x' }, /limit must be an integer/],
      ['limit=1.5', { limit: '1.5' }, /limit must be an integer/],
      ['status=finished', { status: 'finished' }, /^status must be one of the following values/],
      ['a malformed kind', { kind: 'Not A Kind' }, /^kind must be a job kind name/],
      ['a garbage cursor', { cursor: 'garbage' }, /^cursor /],
      [
        'a base64 cursor of the wrong shape',
        { cursor: Buffer.from('x|y').toString('base64url') },
        /^cursor /,
      ],
      ['an over-long cursor', { cursor: 'c'.repeat(201) }, /^cursor must be shorter/],
      ['an unknown query parameter', { sort: 'asc' }, /^sort /],
    ];

    it.each(badQueries)('answers 400 naming the field for %s', async (_name, query, message) => {
      const api = new Api(stack, uniqueUser('alice'));
      expectError(await api.get('/jobs').query(query), 400, message);
    });
  });

  describe('GET /jobs/:id/events', () => {
    let api: Api;
    let job: JobBody;
    let events: EventBody[];

    beforeAll(async () => {
      api = new Api(stack, uniqueUser('alice'));
      job = await api.submitOk('echo', { text: 'events', steps: 3 });
      await api.waitForStatus(job.id, ['done']);
      events = await api.allEvents(job.id);
    });

    it('returns the whole history, oldest first, in the event shape', () => {
      expect(events.map((event) => event.status)).toEqual([
        'created',
        'processing',
        'progress',
        'progress',
        'progress',
        'done',
      ]);
      const ids = events.map((event) => BigInt(event.eventId));
      for (let i = 1; i < ids.length; i += 1) expect(ids[i] > ids[i - 1]).toBe(true);
      for (const event of events) {
        expect(event).toMatchObject({ jobId: job.id, kind: 'echo' });
        expect(event.eventId).toMatch(/^\d+$/);
        expect(event.at).toMatch(ISO);
      }
      expect(events.at(-1)).toMatchObject({
        status: 'done',
        progress: 100,
        result: { text: 'events', attempt: 1 },
      });
      expect(events.slice(2, 5).map((event) => event.message)).toEqual([
        'step 1',
        'step 2',
        'step 3',
      ]);
    });

    it('returns only the events after the given eventId', async () => {
      for (let i = 0; i < events.length; i += 1) {
        const page = await api.events(job.id, { after: events[i].eventId });
        expect(page.items).toEqual(events.slice(i + 1));
        expect(page.nextCursor).toBeNull();
      }
      const fromZero = await api.events(job.id, { after: '0' });
      expect(fromZero.items).toEqual(events);
    });

    it('pages with limit, nextCursor being the after of the next page', async () => {
      const pages: EventBody[][] = [];
      let after: string | null = null;
      do {
        const page = await api.events(job.id, { limit: 4, ...(after !== null && { after }) });
        pages.push(page.items);
        after = page.nextCursor;
        if (after !== null) expect(after).toBe(page.items.at(-1)?.eventId);
        expect(pages.length).toBeLessThanOrEqual(2);
      } while (after !== null);
      expect(pages.map((page) => page.length)).toEqual([4, 2]);
      expect(pages.flat()).toEqual(events);

      const exact = await api.events(job.id, { limit: 3, after: events[2].eventId });
      expect(exact.items).toEqual(events.slice(3));
      expect(exact.nextCursor).toBeNull();
    });

    it.each(badEventQueries)(
      'answers 400 naming the field for %s',
      async (_name, query, message) => {
        expectError(await api.get(`/jobs/${job.id}/events`).query(query), 400, message);
      },
    );
  });

  describe('GET /events (the caller across all their jobs)', () => {
    let api: Api;
    let events: EventBody[];

    beforeAll(async () => {
      api = new Api(stack, uniqueUser('feed'));
      const other = new Api(stack, uniqueUser('feed-other'));
      const jobs = await submitSequentially(api, 2);
      await allFinished(other, await submitSequentially(other, 1));
      await allFinished(api, jobs);
      events = [...(await api.allEvents(jobs[0].id)), ...(await api.allEvents(jobs[1].id))].sort(
        (a, b) => (BigInt(a.eventId) < BigInt(b.eventId) ? -1 : 1),
      );
    });

    it('returns every event of the caller after the cursor, oldest first, no one else’s', async () => {
      expect(events).toHaveLength(6);
      expect((await api.userEvents({ after: '0' })).items).toEqual(events);
      for (let i = 0; i < events.length; i += 1) {
        const rest = await api.userEvents({ after: events[i].eventId });
        expect(rest).toEqual({ items: events.slice(i + 1), nextCursor: null });
      }
    });

    it('without after: no events, and the newest eventId to follow from', async () => {
      expect(await api.userEvents()).toEqual({ items: [], nextCursor: events.at(-1)?.eventId });
      const newcomer = new Api(stack, uniqueUser('feed-new'));
      expect((await newcomer.get('/events').expect(200)).body).toEqual({
        items: [],
        nextCursor: '0',
      });
    });

    it('pages with limit, nextCursor being the after of the next page', async () => {
      const first = await api.userEvents({ after: '0', limit: 4 });
      expect(first).toEqual({ items: events.slice(0, 4), nextCursor: events[3].eventId });
      expect(await api.userEvents({ after: first.nextCursor ?? '', limit: 4 })).toEqual({
        items: events.slice(4),
        nextCursor: null,
      });
    });

    it('answers 410 for a cursor that is not a retained event of the caller', async () => {
      const other = new Api(stack, uniqueUser('feed-thief'));
      for (const after of [events[0].eventId, '999999999999']) {
        expectError(
          await other.get('/events').query({ after }),
          410,
          /^after \d+ is not an event of yours that is still retained/,
        );
      }
    });

    it('answers 401 without a token', async () => {
      expectError(await stack.http().get('/api/v1/events'), 401, /Bearer token is required/);
    });

    // Last in this block: the sweep prunes the old events of every user of this database.
    it('after the retention sweep: an idle follower at the newest event goes on, an older cursor is 410', async () => {
      await stack.app.get(JobRepository).pruneEvents(new Date(Date.now() + 60_000));
      const newest = events.at(-1)?.eventId ?? '';
      expect(await api.userEvents({ after: newest })).toEqual({ items: [], nextCursor: null });
      expect(await api.userEvents()).toEqual({ items: [], nextCursor: newest });
      expectError(
        await api.get('/events').query({ after: events[0].eventId }),
        410,
        /^after \d+ is not an event of yours that is still retained/,
      );
    });

    it.each(badEventQueries)(
      'answers 400 naming the field for %s',
      async (_name, query, message) => {
        expectError(await api.get('/events').query(query), 400, message);
      },
    );
  });
});
