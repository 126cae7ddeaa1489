import { Injectable, Logger } from '@nestjs/common';
import { RedisService } from '../redis/redis.service';
import { toEventView, type JobEventView } from './job-transition';
import type { StoredEvent } from './job.repository';

const PUBLISH_ATTEMPTS = 5;

/** What crosses Redis to every api instance: the event, its owner and the link to its predecessor. */
export interface PublishedJobEvent extends JobEventView {
  userId: string;
  previousEventId: string | null;
}

/**
 * Fans persisted events out to every api instance. Pub/sub may drop or reorder messages; the
 * JobEvent table is the record, and previousEventId lets a receiver see a gap and fill it.
 */
@Injectable()
export class JobEventBus {
  private readonly logger = new Logger(JobEventBus.name);

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
    await this.send(JSON.stringify(message), message.eventId, 1);
  }

  /**
   * A failed publish is tried again in the background: a later event would reveal the gap to
   * sockets, but a job's last event has no later one.
   */
  private async send(payload: string, eventId: string, attempt: number): Promise<void> {
    try {
      await this.redis.client.publish(this.channel(), payload);
    } catch (error) {
      const reason = (error as Error).message;
      if (attempt >= PUBLISH_ATTEMPTS) {
        this.logger.warn(`event ${eventId} not published after ${attempt} attempts: ${reason}`);
        return;
      }
      setTimeout(() => void this.send(payload, eventId, attempt + 1), attempt * 1000).unref();
    }
  }
}
