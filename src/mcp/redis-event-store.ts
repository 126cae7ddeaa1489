import type { EventStore } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { Cluster, Redis } from 'ioredis';
import { hashTag } from '../redis/redis-keys';

type RedisClient = Redis | Cluster;

const EVENT_ID = /^(\d{1,15})\.([A-Za-z0-9_-]{1,200})$/;

/**
 * Appends under the next number of the session, so ids order every event of the session; notes
 * the stream in the session's index, so dropping the session needs no keyspace scan.
 */
const STORE = `local seq = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], seq, seq .. ' ' .. ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[3])
redis.call('EXPIRE', KEYS[3], ARGV[2])
return seq`;

export interface McpEventKeys {
  /** The session's event counter. */
  seq: string;
  /** The session's streams (as in events()), for drop(). */
  streams: string;
  /** One stream's events; `stream` is the base64url of the SDK's stream id. */
  events(stream: string): string;
}

/**
 * Every key of one session's events, all under the session's hash tag so the store script and
 * drop() touch one slot on Redis Cluster (docs/redis-cluster.md).
 */
export function mcpEventKeys(mcpPrefix: string, sessionId: string): McpEventKeys {
  const base = `${mcpPrefix}:${hashTag(sessionId)}`;
  return {
    seq: `${base}:seq`,
    streams: `${base}:streams`,
    events: (stream) => `${base}:events:${stream}`,
  };
}

/**
 * One session's SSE events, in Redis, so that a client that lost a stream — the response stream
 * of a call, or the standalone GET stream — gets what it missed by reconnecting with
 * Last-Event-ID. An event id is `<n>.<stream>`: n orders the session's events, the stream part
 * (base64url of the SDK's stream id, so `_GET_stream` round-trips) says which stream to replay.
 * The session is not in the id: the SDK asks the store of the session the request names.
 */
export class RedisEventStore implements EventStore {
  private readonly keys: McpEventKeys;

  constructor(
    private readonly redis: RedisClient,
    /** `<prefix>:mcp`. */
    mcpPrefix: string,
    sessionId: string,
    private readonly ttlSec: number,
  ) {
    this.keys = mcpEventKeys(mcpPrefix, sessionId);
  }

  async storeEvent(streamId: string, message: JSONRPCMessage): Promise<string> {
    const stream = Buffer.from(streamId).toString('base64url');
    const seq = (await this.redis.eval(
      STORE,
      3,
      this.keys.seq,
      this.keys.events(stream),
      this.keys.streams,
      JSON.stringify(message),
      this.ttlSec,
      stream,
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
    const entries = await this.redis.zrangebyscore(this.keys.events(stream), `(${seq}`, '+inf');
    for (const entry of entries) {
      const space = entry.indexOf(' ');
      await send(
        `${entry.slice(0, space)}.${stream}`,
        JSON.parse(entry.slice(space + 1)) as JSONRPCMessage,
      );
    }
    return Buffer.from(stream, 'base64url').toString();
  }

  /**
   * The session ended: its events can no longer be resumed. A stream stored while this runs
   * (the transport is closed by then, so hardly any) is left to its TTL.
   */
  async drop(): Promise<void> {
    const streams = await this.redis.smembers(this.keys.streams);
    await this.redis.unlink(
      this.keys.seq,
      this.keys.streams,
      ...streams.map((stream) => this.keys.events(stream)),
    );
  }
}
