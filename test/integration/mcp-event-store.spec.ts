import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import Redis from 'ioredis';
import { mcpEventKeys, RedisEventStore } from '../../src/mcp/redis-event-store';
import { dropPrefix, TEST_REDIS_URL, uniquePrefix } from '../support/redis';

const note = (n: number): JSONRPCMessage => ({
  jsonrpc: '2.0',
  method: 'notifications/progress',
  params: { progressToken: 1, progress: n },
});

describe('RedisEventStore', () => {
  const prefix = uniquePrefix('mcp-events');
  const mcp = `${prefix}:mcp`;
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
    const store = new RedisEventStore(redis, mcp, 's1', 60);
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
    const id = await new RedisEventStore(redis, mcp, 's2', 60).storeEvent('a', note(1));
    await new RedisEventStore(redis, mcp, 's2', 60).storeEvent('a', note(2));
    expect((await replay(new RedisEventStore(redis, mcp, 's2', 60), id)).sent).toHaveLength(1);
    expect((await replay(new RedisEventStore(redis, mcp, 's3', 60), id)).sent).toEqual([]);
  });

  it('expires with its TTL and is dropped with its session, every stream of it', async () => {
    const store = new RedisEventStore(redis, mcp, 's4', 60);
    const keys = mcpEventKeys(mcp, 's4');
    const id = await store.storeEvent('a', note(1));
    await store.storeEvent('a', note(2));
    const other = await store.storeEvent('_GET_stream', note(3));
    await store.storeEvent('_GET_stream', note(4));
    const b64 = (streamId: string) => Buffer.from(streamId).toString('base64url');
    const all = [keys.seq, keys.streams, keys.events(b64('a')), keys.events(b64('_GET_stream'))];
    for (const key of all) {
      const ttl = await redis.ttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60);
    }
    await new RedisEventStore(redis, mcp, 's4b', 60).storeEvent('a', note(5));
    await store.drop();
    expect((await replay(store, id)).sent).toEqual([]);
    expect((await replay(store, other)).sent).toEqual([]);
    expect(await redis.exists(...all)).toBe(0);
    expect(await redis.exists(mcpEventKeys(mcp, 's4b').events(b64('a')))).toBe(1);
  });

  it('refuses ids it did not give out', async () => {
    expect(RedisEventStore.isEventId('_GET_stream_1700000000_abc')).toBe(false);
    expect(RedisEventStore.isEventId('12.')).toBe(false);
    await expect(replay(new RedisEventStore(redis, mcp, 's5', 60), 'nope')).rejects.toThrow(
      'nope is not an event id of this server',
    );
  });
});
