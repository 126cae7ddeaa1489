import type { EventStore } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { RedisClient } from '../redis/redis-connection';

const EVENT_ID = /^(\d{1,15})\.([A-Za-z0-9_-]{1,200})$/;

/** Appends under the next number of the session, so ids order every event of the session. */
const STORE = `local seq = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], seq, seq .. ' ' .. ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return seq`;

/**
 * One session's SSE events, in Redis, so that a client that lost a stream — the response stream
 * of a call, or the standalone GET stream — gets what it missed by reconnecting with
 * Last-Event-ID. An event id is `<n>.<stream>`: n orders the session's events, the stream part
 * (base64url of the SDK's stream id, so `_GET_stream` round-trips) says which stream to replay.
 */
export class RedisEventStore implements EventStore {
  constructor(
    private readonly redis: RedisClient,
    /** `<prefix>:mcp:<sessionId>`: every key of this session's events starts with it. */
    private readonly keyPrefix: string,
    private readonly ttlSec: number,
  ) {}

  async storeEvent(streamId: string, message: JSONRPCMessage): Promise<string> {
    const stream = Buffer.from(streamId).toString('base64url');
    const seq = (await this.redis.eval(
      STORE,
      2,
      `${this.keyPrefix}:seq`,
      this.streamKey(stream),
      JSON.stringify(message),
      this.ttlSec,
    )) as number;
    return `${seq}.${stream}`;
  }

  /**
   * Whether a Last-Event-ID is one this store gave out. (No getStreamIdForEventId on purpose: with
   * it the SDK refuses a resume while the server still holds the client's dead stream, 409; without
   * it the resume takes the stream over, which is what a client that lost its connection needs.)
   */
  static isEventId(eventId: string): boolean {
    return EVENT_ID.test(eventId);
  }

  async replayEventsAfter(
    lastEventId: string,
    { send }: { send: (eventId: string, message: JSONRPCMessage) => Promise<void> },
  ): Promise<string> {
    const match = EVENT_ID.exec(lastEventId);
    if (!match) throw new Error(`${lastEventId} is not an event id of this server`);
    const [, seq, stream] = match as unknown as [string, string, string];
    const entries = await this.redis.zrangebyscore(this.streamKey(stream), `(${seq}`, '+inf');
    for (const entry of entries) {
      const space = entry.indexOf(' ');
      await send(
        `${entry.slice(0, space)}.${stream}`,
        JSON.parse(entry.slice(space + 1)) as JSONRPCMessage,
      );
    }
    return Buffer.from(stream, 'base64url').toString();
  }

  /** The session ended: its events can no longer be resumed. */
  async drop(): Promise<void> {
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(
        cursor,
        'MATCH',
        `${this.keyPrefix}:*`,
        'COUNT',
        200,
      );
      if (keys.length > 0) await this.redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  }

  private streamKey(stream: string): string {
    return `${this.keyPrefix}:events:${stream}`;
  }
}
