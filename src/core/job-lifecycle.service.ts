import { Injectable } from '@nestjs/common';
import type { Job, JobEvent } from '../generated/prisma/client';
import { JobEventBus } from './job-event-bus';
import type { JobChange } from './job-transition';
import { JobRepository } from './job.repository';

/** Every status change of every job goes through here: persist row + event, then fan out. */
@Injectable()
export class JobLifecycleService {
  constructor(
    private readonly jobs: JobRepository,
    private readonly bus: JobEventBus,
  ) {}

  /** Applies the change, or returns null when the job's state does not allow it. */
  async apply(jobId: string, change: JobChange): Promise<Job | null> {
    const outcome = await this.jobs.transition(jobId, change);
    if (!outcome) return null;
    await this.bus.publish(outcome.event);
    return outcome.job;
  }

  announce(event: JobEvent): Promise<void> {
    return this.bus.publish(event);
  }
}
