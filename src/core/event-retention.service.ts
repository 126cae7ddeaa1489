import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { RedisService } from '../redis/redis.service';
import { JobRepository } from './job.repository';

const EVERY_MS = 10 * 60_000;

/** Drops events older than EVENT_RETENTION_SEC; one process per round does it. */
@Injectable()
export class EventRetentionService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(EventRetentionService.name);
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly jobs: JobRepository,
    private readonly redis: RedisService,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.prune(), EVERY_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  async prune(now = Date.now()): Promise<number> {
    try {
      if (!(await this.redis.claimRound('event-retention', EVERY_MS - 1000))) return 0;
      const removed = await this.jobs.pruneEvents(
        new Date(now - this.config.eventRetentionSec * 1000),
      );
      if (removed > 0) this.logger.log(`removed ${removed} events past retention`);
      return removed;
    } catch (error) {
      this.logger.warn(`event retention: ${(error as Error).message}`);
      return 0;
    }
  }
}
