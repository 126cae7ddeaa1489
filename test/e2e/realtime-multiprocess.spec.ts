import Redis from 'ioredis';
import request from 'supertest';
import type { ExternalStatusCounters } from '../../src/realtime/external-status.service';
import { uniqueUser, type JobBody } from '../support/api';
import { TEST_JWT_SECRET, tokenFor } from '../support/app';
import { killAllConveyors, startConveyor, type ConveyorProcess } from '../support/conveyor-process';
import { createTestDatabase, type TestDatabase } from '../support/database';
import {
  expectStrictlyIncreasing,
  payloadsOf,
  polledEvents,
  polledUserEvents,
  waitForTerminal,
} from '../support/realtime';
import { dropPrefix, TEST_REDIS_URL, uniquePrefix } from '../support/redis';
import { connectSocket, type TestSocket } from '../support/socket';
import { waitFor } from '../support/wait';

const READY_MS = 90_000;

/**
 * Two api processes and one worker process (children, APP_ROLE=api|worker) on one database
 * and one Redis prefix: whichever instance a job is submitted to and whichever a socket is
 * connected to, every socket of the user gets the same events, in the same order.
 */
describe('live events across processes (2 api + 1 worker)', () => {
  let db: TestDatabase;
  let prefix: string;
  let worker: ConveyorProcess;
  let apiA: ConveyorProcess;
  let apiB: ConveyorProcess;
  let urlA: string;
  let urlB: string;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    prefix = uniquePrefix('multi');
    const [w, a, b] = await Promise.all([
      startConveyor('worker', { ...env(), APP_ROLE: 'worker', JOB_CONCURRENCY: '4' }, READY_MS),
      startConveyor('api A', { ...env(), APP_ROLE: 'api', PORT: '0' }, READY_MS),
      startConveyor('api B', { ...env(), APP_ROLE: 'api', PORT: '0' }, READY_MS),
    ]);
    worker = w.proc;
    apiA = a.proc;
    apiB = b.proc;
    expect([w.ready.role, a.ready.role, b.ready.role]).toEqual(['worker', 'api', 'api']);
    urlA = `http://127.0.0.1:${a.ready.port}`;
    urlB = `http://127.0.0.1:${b.ready.port}`;
  });

  afterAll(async () => {
    sockets.forEach((s) => s.close());
    await killAllConveyors();
    if (prefix) await dropPrefix(prefix);
    await db?.drop();
  });

  function env(): Record<string, string> {
    return {
      DATABASE_URL: db.url,
      QUEUE_PREFIX: prefix,
      REDIS_URL: TEST_REDIS_URL,
      JWT_SECRET: TEST_JWT_SECRET,
      LOG_LEVEL: 'warn',
      PROGRESS_INTERVAL_MS: '0',
    };
  }

  /** On failure, the children's output says what happened on their side. */
  function withOutput<T>(work: Promise<T>): Promise<T> {
    return work.catch((error: Error) => {
      const procs = [worker, apiA, apiB].filter(Boolean);
      throw new Error(`${error.message}\n${procs.map((p) => p.describe()).join('\n')}`);
    });
  }

  async function open(url: string, user: string, lastEventId?: string): Promise<TestSocket> {
    const socket = await connectSocket(url, {
      token: tokenFor(user),
      ...(lastEventId !== undefined && { lastEventId }),
    });
    sockets.push(socket);
    return socket;
  }

  async function submit(url: string, user: string, params: object): Promise<string> {
    const res = await request(url)
      .post('/api/v1/jobs/echo')
      .set('Authorization', `Bearer ${tokenFor(user)}`)
      .send({ projectId: 'p-multi', params });
    expect({ status: res.status, body: res.body as unknown }).toMatchObject({ status: 202 });
    return (res.body as JobBody).id;
  }

  async function job(url: string, user: string, id: string): Promise<JobBody> {
    const res = await request(url)
      .get(`/api/v1/jobs/${id}`)
      .set('Authorization', `Bearer ${tokenFor(user)}`);
    expect({ status: res.status, body: res.body as unknown }).toMatchObject({ status: 200 });
    return res.body as JobBody;
  }

  /** True when at least two of the jobs ran at the same time on the worker. */
  function overlapped(jobs: JobBody[]): boolean {
    const spans = jobs.map((j) => [Date.parse(j.startedAt ?? ''), Date.parse(j.finishedAt ?? '')]);
    return spans.some(([s1, f1], i) => spans.some(([s2, f2], k) => k !== i && s1 < f2 && s2 < f1));
  }

  it('a socket connected without lastEventId gets every event after its connect, even on a cold instance', async () => {
    const { proc, ready } = await withOutput(
      startConveyor('api C', { ...env(), APP_ROLE: 'api', PORT: '0' }, READY_MS),
    );
    try {
      const urlC = `http://127.0.0.1:${ready.port}`;
      const users = Array.from({ length: 8 }, () => uniqueUser('cold'));
      // Connect and submit at once, in parallel, on an instance that has not served anyone yet.
      const runs = await Promise.all(
        users.map(async (user) => {
          const socket = await open(urlC, user);
          const id = await submit(urlC, user, { text: 'cold' });
          return { user, socket, id };
        }),
      );
      for (const { user, socket, id } of runs) {
        await withOutput(waitForTerminal(socket, [id], `the events of ${user}`));
        expect(payloadsOf(socket.events)).toEqual(await polledEvents(urlC, user, id));
      }
    } finally {
      await proc.kill();
    }
  });

  it('a user with a socket on each api instance gets every event of jobs submitted to either, identically', async () => {
    const user = uniqueUser('both');
    const onA = await open(urlA, user);
    const onB = await open(urlB, user);
    const ids = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        submit(i % 2 === 0 ? urlA : urlB, user, { text: `job-${i}`, steps: 6, stepMs: 20 }),
      ),
    );
    await withOutput(waitForTerminal(onA, ids, 'events on A'));
    await withOutput(waitForTerminal(onB, ids, 'events on B'));

    const polled = await polledUserEvents(urlA, user, ids);
    expect(await polledUserEvents(urlB, user, ids)).toEqual(polled);
    expect(polled).toHaveLength(6 * 9);
    expectStrictlyIncreasing(polled);
    expect(payloadsOf(onA.events)).toEqual(polled);
    expect(payloadsOf(onB.events)).toEqual(polled);
    for (const id of ids) {
      const events = polled.filter((e) => e.jobId === id).map((e) => e.status);
      expect(events).toEqual([
        'created',
        'processing',
        ...Array.from({ length: 6 }, () => 'progress'),
        'done',
      ]);
    }

    // The separate worker process ran them, several at a time.
    const jobs = await Promise.all(ids.map((id) => job(urlB, user, id)));
    for (const j of jobs) expect(j).toMatchObject({ status: 'done', result: { pid: worker.pid } });
    expect(overlapped(jobs)).toBe(true);
  });

  it('eventIds strictly increase per user with concurrent jobs of several users', async () => {
    const users = [uniqueUser('u1'), uniqueUser('u2')];
    const feeds = await Promise.all(
      users.map(async (user) => [await open(urlA, user), await open(urlB, user)] as const),
    );
    const ids = await Promise.all(
      users.map((user, u) =>
        Promise.all(
          Array.from({ length: 5 }, (_, i) =>
            submit((i + u) % 2 === 0 ? urlA : urlB, user, {
              text: `${u}-${i}`,
              steps: 4,
              stepMs: 10,
            }),
          ),
        ),
      ),
    );
    for (const [u, [onA, onB]] of feeds.entries()) {
      await withOutput(waitForTerminal(onA, ids[u], `user ${u} on A`));
      await withOutput(waitForTerminal(onB, ids[u], `user ${u} on B`));
    }
    for (const [u, user] of users.entries()) {
      const polled = await polledUserEvents(urlB, user, ids[u]);
      expect(polled).toHaveLength(5 * 7);
      expectStrictlyIncreasing(polled);
      const [onA, onB] = feeds[u];
      expect(payloadsOf(onA.events)).toEqual(polled);
      expect(payloadsOf(onB.events)).toEqual(polled);
      // Several of the user's jobs were running at once on the worker.
      expect(overlapped(await Promise.all(ids[u].map((id) => job(urlA, user, id))))).toBe(true);
    }
  });

  it('a client disconnected from one instance resumes on the other: no gap, no duplicate', async () => {
    const user = uniqueUser('hop');
    const first = await open(urlA, user);
    const id = await submit(urlB, user, { text: 'hop', steps: 30, stepMs: 20 });
    await withOutput(
      waitFor('a few live events on A', () => Promise.resolve(first.events.length >= 5)),
    );
    first.close();
    const before = [...first.events];
    const second = await open(urlB, user, before.at(-1)?.eventId);
    await withOutput(waitForTerminal(second, [id], 'the rest on B'));

    const union = [...payloadsOf(before), ...payloadsOf(second.events)];
    expect(union).toEqual(await polledEvents(urlA, user, id));
  });

  it('external reports published in a burst are applied once each, in order, whichever instance hears them', async () => {
    const admin = `Bearer ${tokenFor(uniqueUser('admin'), ['admin'])}`;
    const counters = async (url: string): Promise<ExternalStatusCounters> => {
      const res = await request(url)
        .get('/api/v1/admin/external-status')
        .set('Authorization', admin);
      expect(res.status).toBe(200);
      return res.body as ExternalStatusCounters;
    };
    const accepted = async () => (await counters(urlA)).accepted + (await counters(urlB)).accepted;
    const pause = await request(urlA)
      .post('/api/v1/admin/queues/echo/pause')
      .set('Authorization', admin);
    expect({ status: pause.status, body: pause.body as unknown }).toMatchObject({
      status: 200,
      body: { paused: true },
    });
    const publisher = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
    try {
      const user = uniqueUser('ext');
      const onA = await open(urlA, user);
      const onB = await open(urlB, user);
      const ids = [
        await submit(urlA, user, { text: 'x1' }),
        await submit(urlB, user, { text: 'x2' }),
      ];
      const before = await accepted();

      const reports = ids.flatMap((jobId) => [
        { jobId, status: 'processing' },
        ...Array.from({ length: 20 }, (_, i) => ({
          jobId,
          status: 'progress',
          progress: (i + 1) * 4,
          message: `step ${i + 1}`,
        })),
        { jobId, status: 'done', result: { by: 'external' } },
      ]);
      // Interleave the two jobs' reports and publish them all without waiting.
      const burst = reports.map((_, i) => reports[(i % 2) * 22 + Math.floor(i / 2)]);
      const heard = await Promise.all(
        burst.map((r) => publisher.publish(`${prefix}:status`, JSON.stringify(r))),
      );
      expect(heard.every((n) => n >= 2)).toBe(true);

      await withOutput(waitForTerminal(onA, ids, 'external done on A'));
      await withOutput(waitForTerminal(onB, ids, 'external done on B'));
      const polled = await polledUserEvents(urlA, user, ids);
      expect(payloadsOf(onA.events)).toEqual(polled);
      expect(payloadsOf(onB.events)).toEqual(polled);
      for (const id of ids) {
        const events = polled.filter((e) => e.jobId === id);
        expect(events.map((e) => [e.status, e.progress])).toEqual([
          ['created', 0],
          ['processing', 0],
          ...Array.from({ length: 20 }, (_, i) => ['progress', (i + 1) * 4]),
          ['done', 100],
        ]);
        expect(await job(urlB, user, id)).toMatchObject({
          status: 'done',
          result: { by: 'external' },
        });
      }
      await withOutput(
        waitFor('44 reports accepted', async () => (await accepted()) === before + 44),
      );
    } finally {
      publisher.disconnect();
      await request(urlA).post('/api/v1/admin/queues/echo/resume').set('Authorization', admin);
    }
  });
});
