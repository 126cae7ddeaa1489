import { HttpException, Injectable } from '@nestjs/common';
import type { Job } from '../generated/prisma/client';
import { ancestorIds, cancelSteps, MAX_CHILD_DEPTH } from './child-jobs';
import { ChildJobWaiterService } from './child-job-waiter.service';
import {
  ChildJobCancelledError,
  ChildJobFailedError,
  ChildJobRefusedError,
  JobCancelledError,
  JobTimeoutError,
} from './job.errors';
import { JobLifecycleService } from './job-lifecycle.service';
import { JobQueueService } from './job-queue.service';
import { JobRepository } from './job.repository';
import { UnknownJobKindError } from './job-registry';
import { JobService } from './job.service';
import {
  PRIORITIES,
  isTerminal,
  type JobContext,
  type ChildJobOptions,
  type JsonValue,
  type PriorityName,
} from './job.types';

const KEY = /^[\x21-\x7e]{1,200}$/;

const PRIORITY_NAMES = new Map(
  Object.entries(PRIORITIES).map(([name, value]) => [value, name as PriorityName]),
);

/** One run of a parent job, as its ctx.child sees it. */
export interface ParentRun {
  readonly job: Job;
  readonly signal: AbortSignal;
  /**
   * Called while the run waits for a step: gives its worker slot back for that long (another job
   * of its kind may run meanwhile); returns the function that takes the slot back.
   */
  readonly lendSlot: () => () => void;
}

/**
 * ctx.child: runs other kinds as steps of a job (docs/child-jobs.md). A step is an ordinary job
 * with its parent's id and a key unique among the parent's steps, which is what makes it
 * durable: a parent that runs again finds the step by its key instead of starting another.
 */
@Injectable()
export class JobChildrenService {
  constructor(
    private readonly jobs: JobRepository,
    private readonly submits: JobService,
    private readonly lifecycle: JobLifecycleService,
    private readonly queues: JobQueueService,
    private readonly waiter: ChildJobWaiterService,
  ) {}

  /** The `child` and `childId` members of one run's context; a cancel or timeout of the run cancels its steps. */
  contextFor(run: ParentRun): Pick<JobContext<object>, 'child' | 'childId'> {
    run.signal.addEventListener(
      'abort',
      () => void this.stopStepsIfStopped(run).catch(() => undefined),
      { once: true },
    );
    /** Keys whose step this run has already seen end: asking again does not run it again. */
    const seen = new Set<string>();
    const ids = new Map<string, string>();
    let depth: Promise<number> | undefined;
    const child = async (
      key: string,
      kind: string,
      params: object,
      options: ChildJobOptions = {},
    ) => {
      if (!KEY.test(key))
        throw new ChildJobRefusedError(String(key), 'a key is 1-200 printable ASCII characters');
      run.signal.throwIfAborted();
      let step = await this.jobs.findChild(run.job.id, key);
      if (step && step.kind !== kind) {
        throw new ChildJobRefusedError(key, `it is a ${step.kind} step, not ${kind}`);
      }
      if (!step) {
        depth ??= ancestorIds(this.jobs, run.job).then((ids) => ids.length);
        if ((await depth) + 1 > MAX_CHILD_DEPTH) {
          throw new ChildJobRefusedError(key, `steps nest at most ${MAX_CHILD_DEPTH} deep`);
        }
        step = await this.submit(run.job, key, kind, params, options.priority);
        await this.stopIfStopped(run);
      } else if (!seen.has(key) && (step.status === 'error' || step.status === 'cancelled')) {
        step = await this.runAgain(step);
        await this.stopIfStopped(run);
      }
      ids.set(key, step.id);
      if (!isTerminal(step.status)) step = await this.wait(run, step);
      seen.add(key);
      return outcome(key, step);
    };
    return { child: child as JobContext<object>['child'], childId: (key) => ids.get(key) };
  }

  /**
   * Whether the parent's steps must stop: the parent was cancelled, or this run was cancelled or
   * timed out while still the parent's current attempt. A stale run (its job recovered elsewhere,
   * its writes refused) must not cancel the steps its successor waits for.
   */
  private async stopped(run: ParentRun): Promise<boolean> {
    const reason: unknown = run.signal.reason;
    const ended =
      run.signal.aborted &&
      (reason instanceof JobCancelledError || reason instanceof JobTimeoutError);
    const parent = await this.jobs.findById(run.job.id);
    if (!parent) return false;
    return parent.status === 'cancelled' || (ended && parent.attempts === run.job.attempts);
  }

  private async stopStepsIfStopped(run: ParentRun): Promise<boolean> {
    if (!(await this.stopped(run))) return false;
    const deps = { jobs: this.jobs, lifecycle: this.lifecycle, queues: this.queues };
    await cancelSteps(deps, run.job.id);
    return true;
  }

  /** A cancel or timeout while a step was being (re)submitted found no step to cancel yet. */
  private async stopIfStopped(run: ParentRun): Promise<void> {
    if (!(await this.stopStepsIfStopped(run))) return;
    run.signal.throwIfAborted();
    throw new JobCancelledError();
  }

  private async submit(
    parent: Job,
    key: string,
    kind: string,
    params: object,
    priority: PriorityName | undefined,
  ): Promise<Job> {
    try {
      const { job } = await this.submits.submit(
        parent.userId,
        kind,
        {
          projectId: parent.projectId,
          params: params as Record<string, JsonValue>,
          priority: priority ?? PRIORITY_NAMES.get(parent.priority as 0) ?? 'medium',
        },
        undefined,
        { parentId: parent.id, childKey: key },
      );
      return job;
    } catch (error) {
      // What a submit answers 4xx (unknown kind, bad params, project not ready) fails every time.
      if (error instanceof HttpException || error instanceof UnknownJobKindError)
        throw new ChildJobRefusedError(key, error.message, { cause: error });
      throw error;
    }
  }

  /** A step that failed or was cancelled before this run of its parent: the core's retry path. */
  private async runAgain(step: Job): Promise<Job> {
    const requeued = await this.lifecycle.apply(step.id, { type: 'requeued' });
    if (!requeued) return (await this.jobs.findById(step.id)) ?? step;
    await this.queues.requeue(requeued);
    return requeued;
  }

  private async wait(run: ParentRun, step: Job): Promise<Job> {
    const takeBack = run.lendSlot();
    try {
      return await this.waiter.ended(step.id, run.signal);
    } finally {
      takeBack();
    }
  }
}

function outcome(key: string, step: Job): JsonValue {
  if (step.status === 'error') throw new ChildJobFailedError(key, step.id, step.error);
  if (step.status === 'cancelled') throw new ChildJobCancelledError(key, step.id);
  return step.result as JsonValue;
}
