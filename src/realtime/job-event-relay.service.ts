import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { onResubscribed } from '../redis/redis-connection';
import { JobEventBus } from '../core/job-event-bus';
import { RedisService } from '../redis/redis.service';
import { JobEventListeners } from './job-event-listeners';
import { JobEventsGateway } from './job-events.gateway';

/** Brings every persisted event, from whichever process wrote it, to this instance's sockets. */
@Injectable()
export class JobEventRelay implements OnApplicationBootstrap {
  constructor(
    private readonly redis: RedisService,
    private readonly bus: JobEventBus,
    private readonly gateway: JobEventsGateway,
    private readonly listeners: JobEventListeners,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const subscriber = this.redis.shardedSubscriber('events');
    // Messages published while a subscriber was away are gone: read them from the database.
    onResubscribed(subscriber, () => {
      this.gateway.resumeAll();
      this.listeners.resumeAll();
    });
    await this.bus.subscribe(subscriber, (events) => {
      for (const event of events) {
        this.gateway.deliver(event);
        this.listeners.deliver(event);
      }
    });
  }
}
