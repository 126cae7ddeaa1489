import { BullModule } from '@nestjs/bullmq';
import { queuePrefix } from '../redis/redis-keys';
import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import { runsWorkers, type AppConfig } from '../config/app-config';
import { EventRetentionService } from './event-retention.service';
import { JobEventBus } from './job-event-bus';
import { JobLifecycleService } from './job-lifecycle.service';
import { JobMetricsService } from './job-metrics.service';
import { JobQueueService } from './job-queue.service';
import { ExternalQueueService } from './external-queue.service';
import { JobRegistry } from './job-registry';
import { JobReconcilerService } from './job-reconciler.service';
import { JobWorkerService } from './job-worker.service';
import { JobRepository } from './job.repository';
import { JobService } from './job.service';
import type { JobKind } from './job.types';
import { WorkspaceLockService } from './workspace-lock.service';
import { SubmitRateLimiter } from './submit-rate-limiter';
import { TokenQuota } from './token-quota';
import { TokenUsageRepository } from './token-usage.repository';
import { JobChildrenService } from './job-children.service';
import { ChildJobWaiterService } from './child-job-waiter.service';
import { QueueLayoutUpgradeService } from './queue-layout-upgrade.service';

const SHARED = [
  WorkspaceLockService,
  EventRetentionService,
  JobRepository,
  JobEventBus,
  JobMetricsService,
  JobLifecycleService,
  JobQueueService,
  ExternalQueueService,
  JobService,
  SubmitRateLimiter,
  TokenUsageRepository,
  TokenQuota,
];

/** The shared job core: every kind's queue, worker and events (its REST: http/JobsApiModule). */
@Module({})
export class JobCoreModule {
  static forRoot(config: AppConfig, kinds: readonly JobKind[]): DynamicModule {
    const registry = new JobRegistry(kinds, config);
    const workers = runsWorkers(config);
    const providers: Provider[] = [{ provide: JobRegistry, useValue: registry }, ...SHARED];
    if (workers) {
      providers.push(
        QueueLayoutUpgradeService,
        JobWorkerService,
        JobReconcilerService,
        JobChildrenService,
        ChildJobWaiterService,
        ...registry.internal().map(({ kind }) => kind.processor!),
      );
    }
    return {
      module: JobCoreModule,
      global: true,
      imports: [
        BullModule.registerQueue(
          ...registry.internal().map(({ kind }) => ({
            name: kind.name,
            prefix: queuePrefix(config.prefix, kind.name),
          })),
        ),
        ...kinds.flatMap((kind) => kind.imports ?? []),
      ],
      providers,
      exports: [JobRegistry, ...SHARED],
    };
  }
}
