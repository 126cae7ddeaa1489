import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import type { ConnectionOptions } from 'bullmq';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { isCluster, openRedis, type ConnectionRole, type RedisClient } from './redis-connection';
import { producerOptions, workerOptions } from './redis-options';

const CLUSTER_READY_MS = 10_000;

/** Owns every Redis connection the process opens, and closes them. */
@Injectable()
export class RedisService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(RedisService.name);
  private readonly connections: RedisClient[] = [];
  private readonly bull = new Map<'queue' | 'worker', RedisClient>();
  readonly client: RedisClient;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    // Commands issued in the same tick (publishes, limits) leave in one write.
    this.client = this.open('command', 'command');
  }

  get cluster(): boolean {
    return this.config.redisCluster !== null;
  }

  /** A cluster client learns the slot map before its first command may fail fast. */
  async onModuleInit(): Promise<void> {
    const client = this.client;
    if (!isCluster(client) || client.status === 'ready') return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`Redis Cluster not ready within ${CLUSTER_READY_MS} ms`)),
        CLUSTER_READY_MS,
      );
      client.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** A connection in subscriber mode; it reconnects and resubscribes by itself. */
  subscriber(name: string): RedisClient {
    return this.open(name, 'waiting');
  }

  /** A connection for sharded channels (SSUBSCRIBE); on a cluster it follows each slot's node. */
  shardedSubscriber(name: string): RedisClient {
    return this.open(name, 'sharded');
  }

  /**
   * BullMQ's connection. On one Redis, options (BullMQ opens and closes its own connections,
   * failing fast for queues, waiting for workers); on a cluster, one shared Cluster per role
   * that this service closes, since BullMQ only duplicates what it is given.
   */
  bullConnection(role: 'queue' | 'worker'): ConnectionOptions {
    if (!this.cluster) {
      return role === 'queue'
        ? producerOptions(this.config.redisUrl)
        : workerOptions(this.config.redisUrl);
    }
    let shared = this.bull.get(role);
    if (!shared) {
      shared = this.open(`bull-${role}`, role === 'queue' ? 'command' : 'waiting');
      this.bull.set(role, shared);
    }
    return shared;
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

  private open(name: string, role: ConnectionRole): RedisClient {
    const connection = openRedis(this.config, role, name);
    connection.on('error', (error: Error) => this.logger.warn(`redis ${name}: ${error.message}`));
    this.connections.push(connection);
    return connection;
  }
}
