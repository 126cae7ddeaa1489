import { Injectable, Logger } from '@nestjs/common';
import type { RedisClient } from '../redis/redis-connection';
import { hashTag } from '../redis/redis-keys';
import { RedisService } from '../redis/redis.service';
import { Batcher } from './batcher';
import { toEventView, type JobEventView } from './job-event.view';
import type { StoredEvent } from './job.repository';

const PUBLISH_ATTEMPTS = 5;

/**
 * Events go out on this many sharded channels, a user's on one of them (docs/redis-cluster.md).
 * Every process must agree on it, so it is not configurable.
 */
export const EVENT_BUCKETS = 16;

/** What crosses Redis to every api instance: the event, its owner and the link to its predecessor. */
export interface PublishedJobEvent extends JobEventView {
  userId: string;
  previousEventId: string | null;
}

/** A message on an events channel: one event, or (as this bus sends them) a batch in order. */
export type PublishedJobEvents = PublishedJobEvent | PublishedJobEvent[];

/** The bucket of a user's events: FNV-1a of the id, the same in every process. */
export function eventBucketOf(userId: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(userId, 'utf8')) {
    hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  }
  return hash % EVENT_BUCKETS;
}

/** A batch split by bucket, each bucket's events in the batch's order. */
export function byBucket(events: PublishedJobEvent[]): Map<number, PublishedJobEvent[]> {
  const buckets = new Map<number, PublishedJobEvent[]>();
  for (const event of events) {
    const bucket = eventBucketOf(event.userId);
    const list = buckets.get(bucket);
    if (list) list.push(event);
    else buckets.set(bucket, [event]);
  }
  return buckets;
}

/**
 * Fans persisted events out to every api instance over sharded pub/sub, a user's events on one
 * channel so that their order holds. Pub/sub may drop or reorder messages; the JobEvent table is
 * the record, and previousEventId lets a receiver see a gap and fill it. The events published
 * in one tick (those of one write batch) go out as one message per bucket.
 */
@Injectable()
export class JobEventBus {
  private readonly logger = new Logger(JobEventBus.name);
  private readonly outgoing = new Batcher<PublishedJobEvent, void>(
    async (messages) => {
      const sends = [...byBucket(messages)].map(([bucket, events]) =>
        this.send(bucket, JSON.stringify(events), describe(events), 1),
      );
      await Promise.all(sends);
      return messages.map(() => undefined);
    },
    // Same tick: the SPUBLISHes leave in the write that carries the tick's metric counts too.
    { windowMs: 0, maxSize: 1000, maxInFlight: 2, sameTick: true },
  );

  /** One channel per bucket; each tag spreads the buckets over a cluster's slots. */
  private readonly bucketChannels: readonly string[];

  constructor(private readonly redis: RedisService) {
    this.bucketChannels = Array.from({ length: EVENT_BUCKETS }, (_, bucket) =>
      redis.key('events', hashTag(`ev${bucket}`)),
    );
  }

  channel(bucket: number): string {
    return this.bucketChannels[bucket];
  }

  channels(): string[] {
    return [...this.bucketChannels];
  }

  async publish(event: StoredEvent): Promise<void> {
    const message: PublishedJobEvent = {
      ...toEventView(event),
      userId: event.userId,
      previousEventId: event.previousEventId?.toString() ?? null,
    };
    await this.outgoing.add(message);
  }

  /**
   * Subscribes a sharded subscriber (RedisService.shardedSubscriber) to every bucket and hands
   * each message's events, in order, to `onEvents`. One SSUBSCRIBE per channel: on a cluster one
   * call may name channels of one slot only.
   */
  async subscribe(
    subscriber: RedisClient,
    onEvents: (events: PublishedJobEvent[]) => void,
  ): Promise<void> {
    const channels = this.channels();
    const ours = new Set(channels);
    subscriber.on('smessage', (channel: string, raw: string) => {
      if (!ours.has(channel)) return;
      try {
        const published = JSON.parse(raw) as PublishedJobEvents;
        onEvents(Array.isArray(published) ? published : [published]);
      } catch (error) {
        this.logger.warn(`unreadable events on ${channel}: ${(error as Error).message}`);
      }
    });
    await Promise.all(channels.map((channel) => subscriber.ssubscribe(channel)));
  }

  /**
   * A failed publish is tried again in the background: a later event would reveal the gap to
   * sockets, but a job's last event has no later one.
   */
  private async send(
    bucket: number,
    payload: string,
    events: string,
    attempt: number,
  ): Promise<void> {
    try {
      await this.redis.client.spublish(this.channel(bucket), payload);
    } catch (error) {
      const reason = (error as Error).message;
      if (attempt >= PUBLISH_ATTEMPTS) {
        this.logger.warn(`${events} not published after ${attempt} attempts: ${reason}`);
        return;
      }
      setTimeout(
        () => void this.send(bucket, payload, events, attempt + 1),
        attempt * 1000,
      ).unref();
    }
  }
}

function describe(messages: PublishedJobEvent[]): string {
  const first = messages[0]?.eventId;
  return messages.length === 1 ? `event ${first}` : `events ${first}…${messages.at(-1)?.eventId}`;
}
