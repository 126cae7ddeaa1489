import type { Server } from 'node:http';
import { Injectable } from '@nestjs/common';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { io } from 'socket.io-client';
import { EventRetentionService } from '../../src/core/event-retention.service';
import type { JobEventView } from '../../src/core/job-event.view';
import { defineJobKind, type JobContext, type JobProcessor } from '../../src/core/job.types';
import type { ResyncNotice } from '../../src/realtime/realtime.types';
import { startStack, tokenFor, type TestStack } from '../support/app';
import { dropUserEvents } from '../support/database';
import {
  compareEventIds,
  expectStrictlyIncreasing,
  payloadsOf,
  polledEvents,
  polledUserEvents,
  waitForTerminal,
} from '../support/realtime';
import { baseUrl, openSocket, type TestSocket } from '../support/socket';
import { echoKind } from '../support/test-kinds';
import { uniqueUser } from '../support/api';
import { waitFor } from '../support/wait';

class TickerParams {
  @IsString()
  @MaxLength(100)
  tag!: string;

  /** Milliseconds between reports (pacing only). */
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(1000)
  pauseMs?: number;
}

type TickerResult = { ticks: number };

/** Tags whose ticker jobs should finish; `everything` ends them all (afterAll). */
const stopped = new Set<string>();
let stopEverything = false;

/** Reports progress without end until the test stops it by tag: a job that "keeps emitting". */
@Injectable()
class TickerProcessor implements JobProcessor<TickerParams, TickerResult> {
  async process(ctx: JobContext<TickerParams>): Promise<TickerResult> {
    const { tag, pauseMs = 1 } = ctx.params;
    let ticks = 0;
    while (!stopped.has(tag) && !stopEverything && !ctx.signal.aborted) {
      ticks += 1;
      await ctx.progress(ticks % 100, `tick ${ticks}`);
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
    return { ticks };
  }
}

const tickerKind = defineJobKind({
  name: 'ticker',
  params: TickerParams,
  processor: TickerProcessor,
  policies: { attempts: 1 },
});

function received(events: TestSocket['events']): JobEventView[] {
  return payloadsOf(events.filter((e) => e.name !== 'resync'));
}

describe('resuming a Socket.IO feed', () => {
  let stack: TestStack;
  let url: string;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    stack = await startStack('resume', [echoKind, tickerKind]);
    url = baseUrl(stack.app.getHttpServer() as Server);
  });

  afterAll(async () => {
    stopEverything = true;
    sockets.forEach((s) => s.close());
    await stack?.close();
  });

  const open = (user: string, lastEventId?: string): Promise<TestSocket> =>
    openSocket(url, tokenFor(user), sockets, lastEventId);

  async function submit(user: string, kind: string, params: object): Promise<string> {
    const res = await stack
      .http()
      .post(`/api/v1/jobs/${kind}`)
      .set('Authorization', `Bearer ${tokenFor(user)}`)
      .send({ projectId: 'p-resume', params });
    expect({ status: res.status, body: res.body as unknown }).toMatchObject({ status: 202 });
    return (res.body as { id: string }).id;
  }

  async function jobStatus(user: string, id: string): Promise<string> {
    const res = await stack
      .http()
      .get(`/api/v1/jobs/${id}`)
      .set('Authorization', `Bearer ${tokenFor(user)}`)
      .expect(200);
    return (res.body as { status: string }).status;
  }

  it('resumes while jobs keep emitting, also during a long replay: no gap, no duplicate, in order', async () => {
    const user = uniqueUser('resume');
    const first = await open(user);
    const tags = [`a-${user}`, `b-${user}`];
    const jobs = [
      await submit(user, 'ticker', { tag: tags[0], pauseMs: 0 }),
      await submit(user, 'ticker', { tag: tags[1], pauseMs: 0 }),
    ];
    await waitFor('live events before the disconnect', () =>
      Promise.resolve(first.events.length >= 20),
    );
    first.close();
    const before = [...first.events];
    const lastSeen = before.at(-1)?.eventId ?? '0';

    // Many events happen while the client is away, so that the replay takes several pages (500 events each).
    const missed = await waitFor(
      'at least 1200 events while disconnected',
      async () => {
        const pages = await Promise.all(jobs.map((id) => polledEvents(url, user, id, lastSeen)));
        const all = pages.flat().sort(compareEventIds);
        return all.length >= 1200 ? all : undefined;
      },
      60_000,
      200,
    );
    const latestBeforeReconnect = BigInt(missed.at(-1)?.eventId ?? lastSeen);

    const second = await open(user, lastSeen);
    // The jobs were still running when the replay started, and go on during and after it.
    expect(await Promise.all(jobs.map((id) => jobStatus(user, id)))).toEqual([
      'processing',
      'processing',
    ]);
    await waitFor(
      'events newer than the replay for both jobs',
      () =>
        Promise.resolve(
          jobs.every(
            (id) =>
              second.events.filter(
                (e) => e.jobId === id && BigInt(e.eventId) > latestBeforeReconnect,
              ).length >= 20,
          ),
        ),
      60_000,
    );
    tags.forEach((tag) => stopped.add(tag));
    await waitForTerminal(second, jobs);

    const union = [...received(before), ...received(second.events)];
    const full = await polledUserEvents(url, user, jobs);
    expect(full.length).toBeGreaterThan(1200);
    expect(union.map((e) => e.eventId)).toEqual(full.map((e) => e.eventId));
    expect(union).toEqual(full);
    expectStrictlyIncreasing(union);
    expect(second.events.some((e) => e.name === 'resync')).toBe(false);
    expect(
      full
        .filter((e) => e.status === 'done')
        .map((e) => e.jobId)
        .sort(),
    ).toEqual([...jobs].sort());
  });

  it('resumes from the middle of a finished history, replaying exactly what follows', async () => {
    const user = uniqueUser('middle');
    const jobId = await submit(user, 'echo', { text: 'm', steps: 10 });
    const watcher = await open(user, '0');
    await waitForTerminal(watcher, [jobId]);
    const full = await polledEvents(url, user, jobId);
    expect(received(watcher.events)).toEqual(full);
    const cut = full[4].eventId;
    const resumed = await open(user, cut);
    await waitFor('the replay', () => Promise.resolve(resumed.events.length >= full.length - 5));
    expect(received(resumed.events)).toEqual(full.slice(5));
  });

  it('sends resync when lastEventId is older than what is retained, then goes live', async () => {
    const user = uniqueUser('pruned');
    const watcher = await open(user);
    const oldJob = await submit(user, 'echo', { text: 'old', steps: 3 });
    await waitForTerminal(watcher, [oldJob]);
    const old = received(watcher.events);
    const lastEventId = old.at(-1)?.eventId ?? '';

    expect(await dropUserEvents(stack.db.url, user)).toBe(old.length);

    const resumed = await open(user, lastEventId);
    await waitFor('resync', () => Promise.resolve(resumed.events.length >= 1));
    const [notice] = resumed.events as unknown as { name: string; reason: string }[];
    expect(notice).toEqual({
      name: 'resync',
      reason: expect.stringMatching(/no longer retained/),
      lastEventId,
    });

    // REST still knows how the old job ended; the socket is live for new events.
    expect(await jobStatus(user, oldJob)).toBe('done');
    const newJob = await submit(user, 'echo', { text: 'new', steps: 2 });
    await waitForTerminal(resumed, [newJob]);
    expect(resumed.events.map((e) => e.name)).toEqual([
      'resync',
      'echo:created',
      'echo:processing',
      'echo:progress',
      'echo:progress',
      'echo:done',
    ]);
    expect(received(resumed.events.slice(1))).toEqual(await polledEvents(url, user, newJob));
  });

  it('sends resync for an eventId of another user, never that user’s events', async () => {
    const owner = uniqueUser('owner');
    const intruder = uniqueUser('intruder');
    const watcher = await open(owner);
    const jobId = await submit(owner, 'echo', { text: 'secret', steps: 2 });
    await waitForTerminal(watcher, [jobId]);
    const ownerFirst = watcher.events[0].eventId;
    const ownerLast = watcher.events.at(-1)?.eventId;

    const socket = await open(intruder, ownerFirst);
    const other = await open(intruder, ownerLast);
    await waitFor('two resync notices', () =>
      Promise.resolve(socket.events.length >= 1 && other.events.length >= 1),
    );
    const mine = await submit(intruder, 'echo', { text: 'mine' });
    await waitForTerminal(other, [mine]);
    await waitForTerminal(socket, [mine]);
    for (const s of [socket, other]) {
      expect(s.events[0].name).toBe('resync');
      expect(s.events.slice(1).every((e) => e.jobId === mine)).toBe(true);
    }
  });

  it.each<[string, unknown, RegExp]>([
    ['letters', 'abc', /lastEventId/],
    ['a negative number', '-1', /lastEventId/],
    ['a decimal', '1.5', /lastEventId/],
    ['an empty string', '', /lastEventId/],
    ['19 digits', '1234567890123456789', /lastEventId/],
    ['digits with spaces', ' 12', /lastEventId/],
    ['a JSON number', 12, /lastEventId/],
    ['an object', { id: '12' }, /lastEventId/],
  ])('refuses the connection when lastEventId is %s, saying why', async (_label, lastEventId) => {
    const socket = io(url, {
      auth: { token: tokenFor('malformed'), lastEventId },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
    });
    try {
      const error = await new Promise<Error>((resolve, reject) => {
        socket.once('connect', () => reject(new Error('connected with a bad lastEventId')));
        socket.once('connect_error', resolve);
      });
      expect(error.message).toBe('unauthorized: auth.lastEventId must be an eventId string');
    } finally {
      socket.close();
    }
  });

  it('two users connected at once, several concurrent jobs each, never see each other’s events', async () => {
    const users = [uniqueUser('iso-a'), uniqueUser('iso-b')];
    const feeds = await Promise.all(users.map((user) => open(user)));
    const again = await Promise.all(users.map((user) => open(user)));
    // A client asking to join another user's room gets nothing more.
    feeds[0].socket.emit('join', `user:${users[1]}`);
    feeds[0].socket.emit('subscribe', { room: `user:${users[1]}` });

    const submitted = await Promise.all(
      users.map((user, u) =>
        Promise.all(
          Array.from({ length: 4 }, (_, i) =>
            submit(user, 'echo', { text: `${u}-${i}`, steps: 5, stepMs: 5 }),
          ),
        ),
      ),
    );
    await Promise.all(users.map((_, u) => waitForTerminal(feeds[u], submitted[u])));
    await Promise.all(users.map((_, u) => waitForTerminal(again[u], submitted[u])));

    for (const [u, user] of users.entries()) {
      const expected = await polledUserEvents(url, user, submitted[u]);
      expect(expected).toHaveLength(4 * 8);
      expect(received(feeds[u].events)).toEqual(expected);
      expect(received(again[u].events)).toEqual(expected);
      expectStrictlyIncreasing(expected);
      const others = new Set(submitted[1 - u]);
      expect(feeds[u].events.filter((e) => others.has(e.jobId))).toEqual([]);
    }
  });

  // Last: the retention sweep removes old events of every user of this database.
  it('resync after the retention sweep (EventRetentionService.prune); newer events still replay', async () => {
    const user = uniqueUser('retained');
    const watcher = await open(user);
    const oldJob = await submit(user, 'echo', { text: 'old', steps: 1 });
    await waitForTerminal(watcher, [oldJob]);
    const oldEvents = await polledEvents(url, user, oldJob);
    // Timestamps are stored rounded to the millisecond: keep 2 ms between old and new.
    const cutoff = Date.now() + 2;
    await waitFor('the clock to pass the cutoff', () => Promise.resolve(Date.now() > cutoff));
    const newJob = await submit(user, 'echo', { text: 'new', steps: 1 });
    await waitForTerminal(watcher, [newJob]);
    const newEvents = await polledEvents(url, user, newJob);
    expect(new Date(oldEvents.at(-1)?.at ?? 0).getTime()).toBeLessThan(cutoff);
    expect(new Date(newEvents[0].at).getTime()).toBeGreaterThanOrEqual(cutoff);

    const retention = stack.app.get(EventRetentionService);
    const removed = await retention.prune(cutoff + stack.config.eventRetentionSec * 1000);
    expect(removed).toBeGreaterThanOrEqual(oldEvents.length);
    expect(await polledEvents(url, user, oldJob)).toEqual([]);
    expect(await polledEvents(url, user, newJob)).toEqual(newEvents);

    const stale = await open(user, oldEvents.at(-1)?.eventId);
    await waitFor('resync', () => Promise.resolve(stale.events.length >= 1));
    const notice: ResyncNotice & { name: string } = {
      name: 'resync',
      reason: expect.stringMatching(/no longer retained/) as string,
      lastEventId: oldEvents.at(-1)?.eventId ?? '',
    };
    expect(stale.events[0]).toEqual(notice);

    const fresh = await open(user, newEvents[0].eventId);
    await waitFor('the replay of the retained events', () =>
      Promise.resolve(fresh.events.length >= newEvents.length - 1),
    );
    expect(received(fresh.events)).toEqual(newEvents.slice(1));
    expect(await jobStatus(user, oldJob)).toBe('done');
  });
});
