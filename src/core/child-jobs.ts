import type { Job } from '../generated/prisma/client';
import type { JobLifecycleService } from './job-lifecycle.service';
import type { JobQueueService } from './job-queue.service';
import type { JobRepository } from './job.repository';

/** A submitted job is at depth 0; its steps at 1; steps deeper than this are refused. */
export const MAX_CHILD_DEPTH = 3;

/** The ids of a job's parent, its parent's parent …, nearest first. */
export async function ancestorIds(
  jobs: Pick<JobRepository, 'findById'>,
  job: Pick<Job, 'parentId'>,
): Promise<string[]> {
  const ids: string[] = [];
  for (let id = job.parentId; id !== null && ids.length <= MAX_CHILD_DEPTH;) {
    ids.push(id);
    id = (await jobs.findById(id))?.parentId ?? null;
  }
  return ids;
}

/**
 * Cancels a job's unfinished steps and theirs: queued ones leave their queue, running ones are
 * told to stop (their worker kills what they started). Returns how many were cancelled.
 */
export async function cancelSteps(
  deps: {
    jobs: Pick<JobRepository, 'children'>;
    lifecycle: Pick<JobLifecycleService, 'apply'>;
    queues: Pick<JobQueueService, 'cancel'>;
  },
  parentId: string,
  message = 'cancelled with its parent',
): Promise<number> {
  let cancelled = 0;
  for (const step of await deps.jobs.children(parentId, true)) {
    if (await deps.lifecycle.apply(step.id, { type: 'cancelled', message })) {
      cancelled += 1;
      await deps.queues.cancel(step.kind, step.id, step.userId);
    }
    cancelled += await cancelSteps(deps, step.id, message);
  }
  return cancelled;
}
