import { EventEmitter } from 'node:events';
import calculateSlot from 'cluster-key-slot';
import type { RedisService } from '../redis/redis.service';
import type { RedisClient } from '../redis/redis-connection';
import { EVENT_BUCKETS, JobEventBus, eventBucketOf, type PublishedJobEvent } from './job-event-bus';
import type { StoredEvent } from './job.repository';

const PREFIX = 'bus-spec';

function fakeRedis(spublish: jest.Mock): RedisService {
  return {
    key: (...parts: string[]) => [PREFIX, ...parts].join(':'),
    client: { spublish },
  } as unknown as RedisService;
}

let nextId = 1n;
function stored(userId: string, jobId: string): StoredEvent {
  const id = nextId++;
  return {
    id,
    jobId,
    userId,
    kind: 'echo',
    status: 'progress',
    progress: 0,
    message: null,
    result: null,
    error: null,
    output: null,
    parentId: null,
    createdAt: new Date(0),
    previousEventId: id - 1n,
  };
}

/** Users whose events fall in two different buckets. */
function usersInTwoBuckets(): [string, string] {
  const first = 'user-0';
  for (let i = 1; ; i++) {
    const other = `user-${i}`;
    if (eventBucketOf(other) !== eventBucketOf(first)) return [first, other];
  }
}

describe('JobEventBus buckets', () => {
  it('puts a user in the same bucket every time, within range', () => {
    for (let i = 0; i < 500; i++) {
      const bucket = eventBucketOf(`user-${i}`);
      expect(bucket).toBe(eventBucketOf(`user-${i}`));
      expect(Number.isInteger(bucket)).toBe(true);
      expect(bucket).toBeGreaterThanOrEqual(0);
      expect(bucket).toBeLessThan(EVENT_BUCKETS);
    }
    // Every process must agree: the hash is fixed, not seeded per process.
    expect(eventBucketOf('alice')).toBe(eventBucketOf(String('ali') + 'ce'));
  });

  it('spreads users over every bucket', () => {
    const counts = new Array<number>(EVENT_BUCKETS).fill(0);
    for (let i = 0; i < 1600; i++) counts[eventBucketOf(`user-${i}`)]++;
    for (const count of counts) expect(count).toBeGreaterThan(50);
  });

  it("spreads the buckets' channels over slots of every default master range", () => {
    const channels = new JobEventBus(fakeRedis(jest.fn())).channels();
    expect(new Set(channels).size).toBe(EVENT_BUCKETS);
    for (const channel of channels) expect(channel.startsWith(`${PREFIX}:events:`)).toBe(true);
    const slots = channels.map((channel) => calculateSlot(channel));
    expect(new Set(slots).size).toBe(EVENT_BUCKETS);
    const ranges = new Set(slots.map((slot) => (slot <= 5460 ? 0 : slot <= 10922 ? 1 : 2)));
    expect(ranges.size).toBe(3);
  });
});

describe('JobEventBus publishing', () => {
  afterEach(() => jest.useRealTimers());

  it("sends a tick's events as one SPUBLISH per bucket, each bucket's events in order", async () => {
    const spublish = jest.fn(() => Promise.resolve(1));
    const bus = new JobEventBus(fakeRedis(spublish));
    const [a, b] = usersInTwoBuckets();
    const events = [
      stored(a, 'ja'),
      stored(b, 'jb'),
      stored(a, 'ja'),
      stored(a, 'ja2'),
      stored(b, 'jb'),
    ];
    await Promise.all(events.map((event) => bus.publish(event)));

    expect(spublish).toHaveBeenCalledTimes(2);
    const sent = new Map(
      (spublish.mock.calls as unknown as [string, string][]).map(([channel, payload]) => [
        channel,
        (JSON.parse(payload) as PublishedJobEvent[]).map((e) => e.eventId),
      ]),
    );
    const ids = (user: string) =>
      events.filter((e) => e.userId === user).map((e) => e.id.toString());
    expect(sent.get(bus.channel(eventBucketOf(a)))).toEqual(ids(a));
    expect(sent.get(bus.channel(eventBucketOf(b)))).toEqual(ids(b));
  });

  it('tries a failed SPUBLISH again in the background', async () => {
    // The batch leaves on process.nextTick: only the retry's timer is faked.
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] });
    const spublish = jest
      .fn()
      .mockRejectedValueOnce(new Error('connection lost'))
      .mockResolvedValue(1);
    const bus = new JobEventBus(fakeRedis(spublish));
    await bus.publish(stored('user-0', 'j'));
    expect(spublish).toHaveBeenCalledTimes(1);
    await jest.advanceTimersByTimeAsync(1000);
    expect(spublish).toHaveBeenCalledTimes(2);
    expect(spublish.mock.calls[1]).toEqual(spublish.mock.calls[0]);
  });
});

describe('JobEventBus subscribing', () => {
  it('subscribes each bucket with its own SSUBSCRIBE and hands over the events of its channels', async () => {
    const ssubscribe = jest.fn(() => Promise.resolve(1));
    const subscriber = Object.assign(new EventEmitter(), { ssubscribe });
    const bus = new JobEventBus(fakeRedis(jest.fn()));
    const received: string[][] = [];
    await bus.subscribe(subscriber as unknown as RedisClient, (events) =>
      received.push(events.map((e) => e.eventId)),
    );

    expect(ssubscribe.mock.calls).toEqual(bus.channels().map((channel) => [channel]));
    subscriber.emit(
      'smessage',
      bus.channel(3),
      JSON.stringify([{ eventId: '1' }, { eventId: '2' }]),
    );
    subscriber.emit('smessage', bus.channel(4), JSON.stringify({ eventId: '3' }));
    subscriber.emit('smessage', `${PREFIX}:other`, JSON.stringify({ eventId: '4' }));
    subscriber.emit('smessage', bus.channel(5), 'not json');
    expect(received).toEqual([['1', '2'], ['3']]);
  });
});
