import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import type { RedisClient } from '../redis/redis-connection';
import { JobEventBus, type PublishedJobEvents } from '../core/job-event-bus';
import { RedisService } from '../redis/redis.service';
import { JobEventListeners } from './job-event-listeners';
import { JobEventsGateway } from './job-events.gateway';

/** Brings every persisted event, from whichever process wrote it, to this instance's sockets. */
@Injectable()
export class JobEventRelay implements OnApplicationBootstrap {
  private readonly logger = new Logger(JobEventRelay.name);
  private subscriber?: RedisClient;

  constructor(
    private readonly redis: RedisService,
    private readonly bus: JobEventBus,
    private readonly gateway: JobEventsGateway,
    private readonly listeners: JobEventListeners,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.subscriber = this.redis.subscriber('events');
    let connectedOnce = false;
    // Messages published while the subscriber was away are gone: read them from the database.
    this.subscriber.on('ready', () => {
      if (connectedOnce) {
        this.gateway.resumeAll();
        this.listeners.resumeAll();
      }
      connectedOnce = true;
    });
    this.subscriber.on('message', (_channel: string, raw: string) => {
      try {
        const published = JSON.parse(raw) as PublishedJobEvents;
        for (const event of Array.isArray(published) ? published : [published]) {
          this.gateway.deliver(event);
          this.listeners.deliver(event);
        }
      } catch (error) {
        this.logger.warn(`unreadable event on ${this.bus.channel()}: ${(error as Error).message}`);
      }
    });
    await this.subscriber.subscribe(this.bus.channel());
  }
}
