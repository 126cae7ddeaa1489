import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import type Redis from 'ioredis';
import { messageOf } from '../common/errors';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { isCluster } from '../redis/redis-connection';
import { RedisService } from '../redis/redis.service';
import { JobRegistry } from './job-registry';
import { describeUpgrade, upgradeQueueLayout } from './queue-layout-upgrade';

const ROUND_MS = 30_000;
const CONNECT_MS = 10_000;

/** The command connection fails commands sent before it is up, and it may still be connecting. */
async function connected(client: Redis): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      reject(new Error(`Redis not ready within ${CONNECT_MS} ms`));
    }, CONNECT_MS);
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    client.once('ready', onReady);
  });
}

/**
 * On a worker's start, before any BullMQ worker takes a job (every onModuleInit ends before the
 * first onApplicationBootstrap), moves the jobs of the single-prefix layout to the tagged one
 * (docs/redis-cluster.md, "Upgrading from the single-prefix layout"). A job still locked by a
 * worker of the previous version is moved in a later round, every 30 s, until none is left.
 */
@Injectable()
export class QueueLayoutUpgradeService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(QueueLayoutUpgradeService.name);
  private timer?: NodeJS.Timeout;
  private finished = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly registry: JobRegistry,
    private readonly redis: RedisService,
  ) {}

  /** True until every old queue is found empty: its jobs have no entry in the new layout yet. */
  get pending(): boolean {
    return !this.finished;
  }

  async onModuleInit(): Promise<void> {
    await this.round();
    if (this.finished) return;
    this.timer = setInterval(() => void this.round(), ROUND_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  private async round(): Promise<void> {
    const client = this.redis.client;
    // A cluster never held the single-prefix layout: Conveyor refused to run on one before.
    if (isCluster(client)) {
      this.finished = true;
      return;
    }
    try {
      await connected(client);
      const outcome = await upgradeQueueLayout({
        client,
        connection: this.redis.bullConnection('queue'),
        prefix: this.config.prefix,
        kinds: this.registry.internal().map(({ kind }) => kind.name),
      });
      if (outcome === 'busy') return;
      for (const line of describeUpgrade(outcome.kinds)) this.logger.log(`queue layout: ${line}`);
      if (outcome.done) {
        this.finished = true;
        clearInterval(this.timer);
      }
    } catch (error) {
      this.logger.warn(`queue layout upgrade: ${messageOf(error)}; tried again in ${ROUND_MS} ms`);
    }
  }
}
