import { Injectable, Logger } from '@nestjs/common';
import type { JobEvent } from '../generated/prisma/client';
import { RedisService } from '../redis/redis.service';
import { toEventView, type JobEventView } from './job-transition';

export interface PublishedJobEvent extends JobEventView {
  userId: string;
}

/**
 * Fans persisted events out to every api instance. Pub/sub may drop a message; the JobEvent
 * table is the record, so a missed publish delays delivery but loses nothing.
 */
@Injectable()
export class JobEventBus {
  private readonly logger = new Logger(JobEventBus.name);

  constructor(private readonly redis: RedisService) {}

  channel(): string {
    return this.redis.key('events');
  }

  async publish(event: JobEvent): Promise<void> {
    const message: PublishedJobEvent = { ...toEventView(event), userId: event.userId };
    try {
      await this.redis.client.publish(this.channel(), JSON.stringify(message));
    } catch (error) {
      this.logger.warn(`event ${message.eventId} not published: ${(error as Error).message}`);
    }
  }
}
