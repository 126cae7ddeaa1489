import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { RedisService } from '../redis/redis.service';
import { JobLifecycleService } from './job-lifecycle.service';
import { JobQueueService } from './job-queue.service';
import { JobRegistry } from './job-registry';
import { JobRepository } from './job.repository';
import { QueueLayoutUpgradeService } from './queue-layout-upgrade.service';

const BATCH = 200;

export interface ReconcileOutcome {
  requeued: number;
  failed: number;
}

/**
 * Finds jobs whose row says queued or processing while Redis holds no live queue entry for them
 * (Redis lost its last writes, or a run ended in BullMQ while the database was unreachable) and
 * puts them back in line, or fails them when their last attempt was the one lost. Without it
 * such a job would wait for ever. One worker process per round does it.
 */
@Injectable()
export class JobReconcilerService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(JobReconcilerService.name);
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly registry: JobRegistry,
    private readonly jobs: JobRepository,
    private readonly queues: JobQueueService,
    private readonly lifecycle: JobLifecycleService,
    private readonly redis: RedisService,
    private readonly layout: QueueLayoutUpgradeService,
  ) {}

  onApplicationBootstrap(): void {
    const every = this.config.reliability.reconcileIntervalMs;
    if (every === 0) return;
    this.timer = setInterval(() => void this.round(), every);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  private async round(): Promise<void> {
    // A job still in the single-prefix layout has no entry in the new one, yet is not lost.
    if (this.layout.pending) return;
    try {
      const hold = Math.max(1000, this.config.reliability.reconcileIntervalMs - 500);
      if (!(await this.redis.claimRound('reconcile', hold))) return;
      await this.reconcile();
    } catch (error) {
      this.logger.warn(`reconcile: ${(error as Error).message}`);
    }
  }

  /** One pass over the unfinished jobs not changed for RECONCILE_AFTER_MS. */
  async reconcile(now = Date.now()): Promise<ReconcileOutcome> {
    const outcome: ReconcileOutcome = { requeued: 0, failed: 0 };
    const kinds = this.registry.internal().map(({ kind }) => kind.name);
    const before = new Date(now - this.config.reliability.reconcileAfterMs);
    for (const row of await this.jobs.findUnfinishedSince(kinds, before, BATCH)) {
      const entry = await this.queues.entryState(row.kind, row.id);
      if (entry === null || entry === 'queued') continue;
      const job = await this.lifecycle.apply(row.id, { type: 'lost' });
      if (!job) continue;
      if (job.status === 'error') {
        outcome.failed += 1;
        this.logger.warn(`job ${row.id}: queue entry lost on its last attempt; failed`);
        continue;
      }
      await this.queues.reenqueue(job);
      outcome.requeued += 1;
      this.logger.warn(`job ${row.id}: queue entry ${entry}; re-queued`);
    }
    return outcome;
  }
}
