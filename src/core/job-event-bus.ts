import { Injectable, Logger } from '@nestjs/common';
import { RedisService } from '../redis/redis.service';
import { Batcher } from './batcher';
import { toEventView, type JobEventView } from './job-event.view';
import type { StoredEvent } from './job.repository';

const PUBLISH_ATTEMPTS = 5;

/** What crosses Redis to every api instance: the event, its owner and the link to its predecessor. */
export interface PublishedJobEvent extends JobEventView {
  userId: string;
  previousEventId: string | null;
}

/** A message on the events channel: one event, or (as this bus sends them) a batch in order. */
export type PublishedJobEvents = PublishedJobEvent | PublishedJobEvent[];

/**
 * Fans persisted events out to every api instance. Pub/sub may drop or reorder messages; the
 * JobEvent table is the record, and previousEventId lets a receiver see a gap and fill it.
 * The events published in one tick (those of one write batch) go out as one message.
 */
@Injectable()
export class JobEventBus {
  private readonly logger = new Logger(JobEventBus.name);
  private readonly outgoing = new Batcher<PublishedJobEvent, void>(
    async (messages) => {
      await this.send(JSON.stringify(messages), describe(messages), 1);
      return messages.map(() => undefined);
    },
    // Same tick: the PUBLISH leaves in the write that carries the tick's metric counts too.
    { windowMs: 0, maxSize: 1000, maxInFlight: 2, sameTick: true },
  );

  constructor(private readonly redis: RedisService) {}

  channel(): string {
    return this.redis.key('events');
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
   * A failed publish is tried again in the background: a later event would reveal the gap to
   * sockets, but a job's last event has no later one.
   */
  private async send(payload: string, events: string, attempt: number): Promise<void> {
    try {
      await this.redis.client.publish(this.channel(), payload);
    } catch (error) {
      const reason = (error as Error).message;
      if (attempt >= PUBLISH_ATTEMPTS) {
        this.logger.warn(`${events} not published after ${attempt} attempts: ${reason}`);
        return;
      }
      setTimeout(() => void this.send(payload, events, attempt + 1), attempt * 1000).unref();
    }
  }
}

function describe(messages: PublishedJobEvent[]): string {
  const first = messages[0]?.eventId;
  return messages.length === 1 ? `event ${first}` : `events ${first}…${messages.at(-1)?.eventId}`;
}
