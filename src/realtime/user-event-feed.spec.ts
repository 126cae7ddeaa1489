import type { JobEvent } from '../generated/prisma/client';
import type { PublishedJobEvent } from '../core/job-event-bus';
import { toEventView, type JobEventView } from '../core/job-event.view';
import type { JobEventStatus } from '../core/job.types';
import type { ResyncNotice } from './realtime.types';
import { socketSink } from './job-events.gateway';
import type { JobSocket } from './realtime.types';
import { REORDER_WAIT_MS, UserEventFeed } from './user-event-feed';

const USER = 'user-1';
const OTHER = 'user-2';
const JOB_A = '00000000-0000-4000-8000-00000000000a';
const STATUSES: JobEventStatus[] = ['created', 'processing', 'progress', 'done'];

interface Emitted {
  name: string;
  payload: JobEventView | ResyncNotice;
}

/** Records what the feed emits, in order: all a socket's EventSink uses of it. */
class FakeSocket {
  readonly emitted: Emitted[] = [];
  disconnected = false;

  disconnect(): this {
    this.disconnected = true;
    return this;
  }

  emit(name: string, payload: JobEventView | ResyncNotice): boolean {
    this.emitted.push({ name, payload });
    return true;
  }

  asSocket(): JobSocket {
    return this as unknown as JobSocket;
  }

  /** The ids of the job events emitted, in order. */
  ids(): string[] {
    return this.emitted
      .filter(({ name }) => name !== 'resync')
      .map(({ payload }) => (payload as JobEventView).eventId);
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

/**
 * The three reads the feed makes, over an in-memory JobEvent table. `holdNextRead` stops the next
 * userEventsAfter call (after it has taken its snapshot, or before, as the test asks) until the
 * test releases it, to put live events in the middle of a replay without any sleep.
 */
class FakeEvents {
  rows: JobEvent[] = [];
  reads = 0;
  private lastId = 0n;
  failNextRead: Error | undefined;
  private hold:
    { snapshot: 'before' | 'after'; reached: () => void; release: Promise<void> } | undefined;

  holdNextRead(snapshot: 'before' | 'after'): { reached: Promise<void>; release: () => void } {
    const reached = deferred();
    const release = deferred();
    this.hold = { snapshot, reached: reached.resolve, release: release.promise };
    return { reached: reached.promise, release: release.resolve };
  }

  async userEventsAfter(userId: string, afterId: bigint, limit: number): Promise<JobEvent[]> {
    this.reads += 1;
    const read = () =>
      this.rows
        .filter((row) => row.userId === userId && row.id > afterId)
        .sort((a, b) => (a.id < b.id ? -1 : 1))
        .slice(0, limit);
    if (this.failNextRead) {
      const error = this.failNextRead;
      this.failNextRead = undefined;
      throw error;
    }
    const hold = this.hold;
    if (!hold) return read();
    this.hold = undefined;
    hold.reached();
    if (hold.snapshot === 'before') {
      const snapshot = read();
      await hold.release;
      return snapshot;
    }
    await hold.release;
    return read();
  }

  latestUserEventId(userId: string): Promise<bigint | null> {
    const ids = this.rows.filter((row) => row.userId === userId).map((row) => row.id);
    return Promise.resolve(ids.length === 0 ? null : ids.reduce((a, b) => (a > b ? a : b)));
  }

  userEventExists(userId: string, id: bigint): Promise<boolean> {
    return Promise.resolve(this.rows.some((row) => row.userId === userId && row.id === id));
  }

  /** Appends the user's next event (ids from one sequence shared by all users). */
  append(userId = USER, jobId = JOB_A): PublishedJobEvent {
    this.lastId += 1n;
    const id = this.lastId;
    const own = this.rows.filter((row) => row.userId === userId);
    const previous = own.length === 0 ? null : own[own.length - 1].id;
    const status = STATUSES[Number(id % BigInt(STATUSES.length))];
    const row: JobEvent = {
      id,
      jobId,
      userId,
      kind: 'echo',
      status,
      progress: Number(id % 101n),
      message: `event ${id}`,
      result: status === 'done' ? { n: Number(id) } : null,
      error: null,
      output: null,
      parentId: null,
      createdAt: new Date(1_700_000_000_000 + Number(id)),
    };
    this.rows.push(row);
    return published(row, previous);
  }

  appendMany(count: number, userId = USER, jobId = JOB_A): PublishedJobEvent[] {
    return Array.from({ length: count }, () => this.append(userId, jobId));
  }

  /** Drops rows as the retention job would. */
  pruneThrough(id: bigint): void {
    this.rows = this.rows.filter((row) => row.id > id);
  }
}

/** What JobEventBus publishes for a stored row. */
function published(row: JobEvent, previous: bigint | null): PublishedJobEvent {
  return {
    ...toEventView(row),
    userId: row.userId,
    previousEventId: previous === null ? null : previous.toString(),
  };
}

function range(from: number, to: number): string[] {
  return Array.from({ length: to - from + 1 }, (_, i) => String(from + i));
}

describe('UserEventFeed', () => {
  let socket: FakeSocket;
  let events: FakeEvents;
  let errors: unknown[];
  let feed: UserEventFeed;

  beforeEach(() => {
    socket = new FakeSocket();
    events = new FakeEvents();
    errors = [];
    feed = new UserEventFeed(socketSink(socket.asSocket()), USER, events, (error) =>
      errors.push(error),
    );
  });

  afterEach(() => {
    expect(errors).toEqual([]);
  });

  describe('replay', () => {
    it('without lastEventId: replays nothing, then sends live events after the latest', async () => {
      const before = events.appendMany(3);
      await feed.start(undefined);
      expect(socket.emitted).toEqual([]);
      await feed.offer(before[2]);
      const live = events.append();
      await feed.offer(live);
      expect(socket.ids()).toEqual(['4']);
    });

    it('emits each event as <kind>:<status> with the payload of its stored row', async () => {
      events.appendMany(4);
      await feed.start(0n);
      expect(socket.emitted.map(({ name }) => name)).toEqual(
        events.rows.map((row) => `echo:${row.status}`),
      );
      expect(new Set(events.rows.map((row) => row.status)).size).toBe(4);
      expect(socket.emitted.map(({ payload }) => payload)).toEqual(events.rows.map(toEventView));
      const live = events.append();
      await feed.offer(live);
      const { userId: _user, previousEventId: _previous, ...view } = live;
      expect(socket.emitted.at(-1)).toEqual({ name: `echo:${live.status}`, payload: view });
      expect(Object.keys(socket.emitted.at(-1)?.payload ?? {})).not.toContain('userId');
      expect(Object.keys(socket.emitted.at(-1)?.payload ?? {})).not.toContain('previousEventId');
    });

    it('replays everything after lastEventId, in order, then goes live', async () => {
      events.appendMany(5);
      await feed.start(2n);
      expect(socket.ids()).toEqual(['3', '4', '5']);
      await feed.offer(events.append());
      expect(socket.ids()).toEqual(['3', '4', '5', '6']);
    });

    it('replays only its own user’s events', async () => {
      events.append(USER);
      events.append(OTHER);
      events.append(USER);
      events.append(OTHER);
      events.append(USER);
      await feed.start(1n);
      expect(socket.ids()).toEqual(['3', '5']);
    });

    it('with lastEventId 0 replays every retained event', async () => {
      events.appendMany(3);
      events.pruneThrough(1n);
      await feed.start(0n);
      expect(socket.ids()).toEqual(['2', '3']);
      expect(socket.emitted.some(({ name }) => name === 'resync')).toBe(false);
    });

    it('pages through a long replay', async () => {
      events.appendMany(1234);
      await feed.start(10n);
      expect(socket.ids()).toEqual(range(11, 1234));
      expect(events.reads).toBe(3);
    });

    it.each(['before', 'after'] as const)(
      'live events arriving during the replay (read snapshot taken %s they were stored) are sent once, in order',
      async (snapshot) => {
        events.appendMany(10);
        const { reached, release } = events.holdNextRead(snapshot);
        const started = feed.start(4n);
        await reached;
        // The job keeps going while the replay read is in flight: stored, then published.
        const live = events.appendMany(3);
        const offered = live.map((event) => feed.offer(event));
        // A duplicate publish of one of them changes nothing.
        offered.push(feed.offer(live[1]));
        release();
        await Promise.all([started, ...offered]);
        expect(socket.ids()).toEqual(range(5, 13));
      },
    );

    it('live events arriving during a multi-page replay are sent after it, once', async () => {
      events.appendMany(700);
      const { reached, release } = events.holdNextRead('before');
      const started = feed.start(0n);
      await reached;
      const live = events.appendMany(5);
      const offered = live.map((event) => feed.offer(event));
      release();
      await Promise.all([started, ...offered]);
      expect(socket.ids()).toEqual(range(1, 705));
    });
  });

  describe('live', () => {
    beforeEach(async () => {
      events.appendMany(5);
      await feed.start(undefined);
    });

    it('sends events whose predecessor was the last one sent, without reading', async () => {
      const reads = events.reads;
      for (const event of events.appendMany(3)) await feed.offer(event);
      expect(socket.ids()).toEqual(['6', '7', '8']);
      expect(events.reads).toBe(reads);
    });

    it('holds an early event until its predecessor arrives, without reading', async () => {
      const reads = events.reads;
      const [six, seven, eight] = events.appendMany(3);
      await feed.offer(eight);
      expect(socket.ids()).toEqual([]);
      await feed.offer(six);
      expect(socket.ids()).toEqual(['6']);
      await feed.offer(seven);
      expect(socket.ids()).toEqual(['6', '7', '8']);
      expect(events.reads).toBe(reads);
    });

    it('reads a gap from the repository when the predecessor does not come', async () => {
      jest.useFakeTimers();
      try {
        const [six, , eight] = events.appendMany(3);
        await feed.offer(six);
        await feed.offer(eight);
        expect(socket.ids()).toEqual(['6']);
        await jest.advanceTimersByTimeAsync(REORDER_WAIT_MS);
        await feed.settled();
        expect(socket.ids()).toEqual(['6', '7', '8']);
      } finally {
        jest.useRealTimers();
      }
    });

    it('handles a reversed burst offered concurrently', async () => {
      const burst = events.appendMany(6);
      await Promise.all([...burst].reverse().map((event) => feed.offer(event)));
      expect(socket.ids()).toEqual(range(6, 11));
    });

    it('ignores events it already sent', async () => {
      const [six] = events.appendMany(1);
      await feed.offer(six);
      await feed.offer(six);
      expect(socket.ids()).toEqual(['6']);
    });

    it('uses previousEventId, not id arithmetic: other users’ ids in between are no gap', async () => {
      events.append(OTHER);
      events.append(OTHER);
      const reads = events.reads;
      const mine = events.append(USER);
      expect(mine.previousEventId).toBe('5');
      await feed.offer(mine);
      expect(socket.ids()).toEqual(['8']);
      expect(events.reads).toBe(reads);
    });

    it('resume() reads whatever was missed while the live channel was down', async () => {
      events.appendMany(4);
      await feed.resume();
      expect(socket.ids()).toEqual(['6', '7', '8', '9']);
      await feed.resume();
      expect(socket.ids()).toEqual(['6', '7', '8', '9']);
    });

    it('keeps working after a failed read, reporting the error', async () => {
      jest.useFakeTimers();
      try {
        const [, seven] = events.appendMany(2);
        events.failNextRead = new Error('database down');
        await feed.offer(seven);
        await jest.advanceTimersByTimeAsync(REORDER_WAIT_MS);
        await feed.settled();
        expect(errors).toEqual([new Error('database down')]);
        errors.length = 0;
        expect(socket.ids()).toEqual([]);
        await feed.offer(events.append());
        await jest.advanceTimersByTimeAsync(REORDER_WAIT_MS);
        await feed.settled();
        expect(socket.ids()).toEqual(['6', '7', '8']);
      } finally {
        jest.useRealTimers();
      }
    });
  });

  describe('a start from the latest id read at connect', () => {
    it('does not check that id again, and still sends what came after it', async () => {
      events.appendMany(3);
      const existenceChecks = jest.spyOn(events, 'userEventExists');
      await feed.start(2n, true);
      expect(existenceChecks).not.toHaveBeenCalled();
      expect(socket.ids()).toEqual(['3']);
    });
  });

  describe('a start that cannot read', () => {
    it('disconnects the socket rather than guess where to start', async () => {
      events.appendMany(3);
      events.failNextRead = new Error('database down');
      await feed.start(1n);
      expect(errors).toEqual([new Error('database down')]);
      errors.length = 0;
      expect(socket.disconnected).toBe(true);
      expect(socket.ids()).toEqual([]);
    });
  });

  describe('resync', () => {
    it('sends resync, not a replay, when lastEventId is no longer retained; then goes live', async () => {
      events.appendMany(12);
      events.pruneThrough(9n);
      await feed.start(3n);
      expect(socket.emitted).toEqual([
        {
          name: 'resync',
          payload: { reason: expect.stringMatching(/no longer retained/), lastEventId: '3' },
        },
      ]);
      await feed.offer(events.append());
      expect(socket.ids()).toEqual(['13']);
    });

    it('sends resync when the sweep removes lastEventId and what follows it while the replay reads', async () => {
      events.appendMany(12);
      const { reached, release } = events.holdNextRead('after');
      const started = feed.start(3n);
      await reached;
      events.pruneThrough(9n);
      release();
      await started;
      // Checked before the read, 3 still existed and 10-12 went out with 4-9 silently missing.
      expect(socket.emitted.map(({ name }) => name)).toEqual(['resync']);
      expect(socket.emitted[0].payload).toMatchObject({ lastEventId: '3' });
    });

    it('sends resync for an id that never was this user’s', async () => {
      events.append(USER);
      events.append(OTHER);
      events.append(USER);
      await feed.start(2n);
      expect(socket.emitted.map(({ name }) => name)).toEqual(['resync']);
      expect(socket.emitted[0].payload).toMatchObject({ lastEventId: '2' });
    });

    it('sends resync when the user has no events at all any more, then goes live', async () => {
      await feed.start(42n);
      expect(socket.emitted.map(({ name }) => name)).toEqual(['resync']);
      await feed.offer(events.append());
      expect(socket.ids()).toEqual(['1']);
    });
  });
});
