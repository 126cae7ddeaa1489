import { Injectable, Logger } from '@nestjs/common';
import { RedisService } from '../redis/redis.service';
import { toEventView, type JobEventView } from './job-transition';
import type { StoredEvent } from './job.repository';

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
    try {
      await this.redis.client.publish(this.channel(), JSON.stringify(message));
    } catch (error) {
      this.logger.warn(`event ${message.eventId} not published: ${(error as Error).message}`);
    }
  }
}
