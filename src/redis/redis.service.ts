import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { producerOptions, workerOptions, type RedisConnectionOptions } from './redis-options';

/** Owns every Redis connection the process opens outside BullMQ, and closes them. */
@Injectable()
export class RedisService implements OnApplicationShutdown {
  private readonly logger = new Logger(RedisService.name);
  private readonly connections: Redis[] = [];
  readonly client: Redis;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    // Commands issued in the same tick (publishes, limits) leave in one write.
    this.client = this.open('command', {
      ...producerOptions(config.redisUrl),
      enableAutoPipelining: true,
    });
  }

  /** A connection in subscriber mode; it reconnects and resubscribes by itself. */
  subscriber(name: string): Redis {
    return this.open(name, workerOptions(this.config.redisUrl));
  }

  key(...parts: string[]): string {
    return [this.config.prefix, ...parts].join(':');
  }

  /** True for the one process that claims this round of a periodic chore across the cluster. */
  async claimRound(chore: string, holdMs: number): Promise<boolean> {
    return (await this.client.set(this.key(chore), '1', 'PX', holdMs, 'NX')) === 'OK';
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.client.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.connections.map((c) => c.quit().catch(() => c.disconnect())));
  }

  private open(name: string, options: RedisConnectionOptions): Redis {
    const connection = new Redis({ ...options, connectionName: `conveyor-${name}` });
    connection.on('error', (error: Error) => this.logger.warn(`redis ${name}: ${error.message}`));
    this.connections.push(connection);
    return connection;
  }
}
