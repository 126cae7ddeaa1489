import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import Redis from 'ioredis';
import { RedisEventStore } from '../../src/mcp/redis-event-store';
import { dropPrefix, TEST_REDIS_URL, uniquePrefix } from '../support/redis';

const note = (n: number): JSONRPCMessage => ({
  jsonrpc: '2.0',
  method: 'notifications/progress',
  params: { progressToken: 1, progress: n },
});

describe('RedisEventStore', () => {
  const prefix = uniquePrefix('mcp-events');
  let redis: Redis;

  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
  });

  afterAll(async () => {
    redis.disconnect();
    await dropPrefix(prefix);
  });

  async function replay(store: RedisEventStore, after: string) {
    const sent: [string, JSONRPCMessage][] = [];
    const stream = await store.replayEventsAfter(after, {
      send: (id, message) => {
        sent.push([id, message]);
        return Promise.resolve();
      },
    });
    return { stream, sent };
  }

  it('replays the standalone GET stream (`_GET_stream`) after an id, and only that stream', async () => {
    const store = new RedisEventStore(redis, `${prefix}:s1`, 60);
    const first = await store.storeEvent('_GET_stream', note(1));
    await store.storeEvent('request-stream', note(100));
    const second = await store.storeEvent('_GET_stream', note(2));
    const third = await store.storeEvent('_GET_stream', note(3));
    expect(RedisEventStore.isEventId(first)).toBe(true);
    const { stream, sent } = await replay(store, first);
    expect(stream).toBe('_GET_stream');
    expect(sent).toEqual([
      [second, note(2)],
      [third, note(3)],
    ]);
    expect((await replay(store, third)).sent).toEqual([]);
  });

  it('survives a new store object (another request) and keeps sessions apart', async () => {
    const id = await new RedisEventStore(redis, `${prefix}:s2`, 60).storeEvent('a', note(1));
    await new RedisEventStore(redis, `${prefix}:s2`, 60).storeEvent('a', note(2));
    expect((await replay(new RedisEventStore(redis, `${prefix}:s2`, 60), id)).sent).toHaveLength(1);
    expect((await replay(new RedisEventStore(redis, `${prefix}:s3`, 60), id)).sent).toEqual([]);
  });

  it('expires with its TTL and is dropped with its session', async () => {
    const store = new RedisEventStore(redis, `${prefix}:s4`, 60);
    const id = await store.storeEvent('a', note(1));
    await store.storeEvent('a', note(2));
    const ttl = await redis.ttl(`${prefix}:s4:events:${Buffer.from('a').toString('base64url')}`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60);
    await store.drop();
    expect((await replay(store, id)).sent).toEqual([]);
    expect(await redis.keys(`${prefix}:s4:*`)).toEqual([]);
  });

  it('refuses ids it did not give out', async () => {
    expect(RedisEventStore.isEventId('_GET_stream_1700000000_abc')).toBe(false);
    expect(RedisEventStore.isEventId('12.')).toBe(false);
    await expect(replay(new RedisEventStore(redis, `${prefix}:s5`, 60), 'nope')).rejects.toThrow(
      'nope is not an event id of this server',
    );
  });
});
