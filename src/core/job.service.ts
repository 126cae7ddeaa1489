import { createHash, randomUUID } from 'node:crypto';
import {
  BadRequestException,
  ConflictException,
  GoneException,
  Inject,
  Injectable,
  NotFoundException,
} from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import type { Job, JobEvent } from '../generated/prisma/client';
import { validateParams } from '../common/params-validation';
import type { SubmitJobDto } from './dto/submit-job.dto';
import { JobLifecycleService } from './job-lifecycle.service';
import { JobQueueService } from './job-queue.service';
import { JobRegistry } from './job-registry';
import { JobRepository, retainedUserEventsAfter } from './job.repository';
import { isTerminal, PRIORITIES, type JobStatus, type JsonValue } from './job.types';
import { toEventView, type JobEventView } from './job-event.view';
import { SubmitRateLimiter } from './submit-rate-limiter';
import { TokenQuota } from './token-quota';
import { isUuid } from '../common/ids';
import { externalParams } from './external-kinds';
import { JobProjects } from './job-projects';
import { cancelSteps } from './child-jobs';

export interface SubmitOutcome {
  job: Job;
  created: boolean;
}

export interface JobPage {
  items: Job[];
  nextCursor: string | null;
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

interface EventPage {
  items: JobEventView[];
  nextCursor: string | null;
}

/** A page of at most `limit` of `events`, read with one more to tell whether another follows. */
function eventPage(events: JobEvent[], limit: number): EventPage {
  const items = events.slice(0, limit).map(toEventView);
  return { items, nextCursor: events.length > limit ? (items.at(-1)?.eventId ?? null) : null };
}

function encodeCursor(job: Job): string {
  return Buffer.from(`${job.createdAt.toISOString()}|${job.id}`).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const [at, id] = Buffer.from(cursor, 'base64url').toString().split('|');
  const createdAt = new Date(at ?? '');
  // Only what encodeCursor writes: a date that prints back the same, in years PostgreSQL stores.
  const exact =
    !Number.isNaN(createdAt.getTime()) && createdAt.toISOString() === at && /^\d{4}-/.test(at);
  if (!id || !isUuid(id) || !exact) {
    throw new BadRequestException('cursor is not a cursor this API returned');
  }
  return { createdAt, id };
}

/** Submit, read, cancel and retry, for every kind alike. */
@Injectable()
export class JobService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly registry: JobRegistry,
    private readonly jobs: JobRepository,
    private readonly queues: JobQueueService,
    private readonly lifecycle: JobLifecycleService,
    private readonly rateLimiter: SubmitRateLimiter,
    private readonly projects: JobProjects,
    private readonly quota: TokenQuota,
  ) {}

  async submit(
    userId: string,
    kindName: string,
    body: SubmitJobDto,
    idempotencyKey?: string,
    step?: { parentId: string; childKey: string },
  ): Promise<SubmitOutcome> {
    const { kind, policies } = this.registry.get(kindName);
    const params = kind.external
      ? externalParams(body.params)
      : ((await validateParams(kind.params, body.params)) as JsonValue);
    const workspace = kind.workspace ? await this.readyWorkspace(userId, body.projectId) : null;
    const refused = await kind.check?.(params as object, { config: this.config, workspace });
    if (refused) throw new BadRequestException(refused);
    if (idempotencyKey !== undefined && !/^[\x21-\x7e]{1,200}$/.test(idempotencyKey)) {
      throw new BadRequestException('Idempotency-Key must be 1-200 printable ASCII characters');
    }
    const priority = PRIORITIES[body.priority ?? 'medium'];
    const requestId = body.requestId ?? null;
    const hash = idempotencyKey
      ? createHash('sha256')
          .update(canonical({ projectId: body.projectId, params, priority, requestId }))
          .digest('hex')
      : null;
    if (idempotencyKey) {
      const existing = await this.jobs.findByIdempotencyKey(userId, kindName, idempotencyKey);
      if (existing) return { job: this.sameRequest(existing, hash), created: false };
    }
    // A step is part of its parent's work, already admitted; but a generation past the quota is
    // not started even as a step (docs/usage.md).
    if (!step) await this.rateLimiter.consume(userId);
    if (kind.quota === 'llm-tokens') await this.quota.check(userId);
    const outcome = await this.jobs.create({
      id: randomUUID(),
      kind: kindName,
      userId,
      projectId: body.projectId,
      requestId,
      priority,
      params,
      maxAttempts: policies.attempts,
      idempotencyKey: idempotencyKey ?? null,
      idempotencyHash: hash,
      parentId: step?.parentId ?? null,
      childKey: step?.childKey ?? null,
    });
    if (!outcome.created) return { job: this.sameRequest(outcome.job, hash), created: false };
    try {
      await this.queues.enqueue(outcome.job);
    } catch (error) {
      await this.jobs.delete(outcome.job.id);
      throw error;
    }
    await this.lifecycle.announce(outcome.event);
    return { job: outcome.job, created: true };
  }

  async get(userId: string, id: string): Promise<Job> {
    const job = isUuid(id) ? await this.jobs.findForUser(id, userId) : null;
    if (!job) throw new NotFoundException(`job ${id} not found`);
    return job;
  }

  async list(
    userId: string,
    query: {
      kind?: string;
      status?: JobStatus;
      parentId?: string;
      limit?: number;
      cursor?: string;
    },
  ): Promise<JobPage> {
    if (query.kind !== undefined) this.registry.get(query.kind);
    const limit = query.limit ?? 20;
    const items = await this.jobs.list({
      userId,
      limit: limit + 1,
      ...(query.kind !== undefined && { kind: query.kind }),
      ...(query.status !== undefined && { status: query.status }),
      ...(query.parentId !== undefined && { parentId: query.parentId }),
      ...(query.cursor !== undefined && { after: decodeCursor(query.cursor) }),
    });
    const page = items.slice(0, limit);
    const last = page.at(-1);
    return { items: page, nextCursor: items.length > limit && last ? encodeCursor(last) : null };
  }

  /** A job's steps (ctx.child), oldest first. */
  steps(job: Job): Promise<Job[]> {
    return this.jobs.children(job.id);
  }

  async events(
    userId: string,
    id: string,
    after: string | undefined,
    limit = 100,
  ): Promise<EventPage> {
    const job = await this.get(userId, id);
    const events = await this.jobs.events(
      job.id,
      after === undefined ? undefined : BigInt(after),
      limit + 1,
    );
    return eventPage(events, limit);
  }

  /**
   * The caller's events across all their jobs after a cursor, in id order (each user's events
   * commit in id order, so a page never skips one that commits later). Without `after`: no
   * events, and the cursor of the newest one, to follow from now on. A cursor no longer retained
   * is 410: what happened after it is partly gone, so the client refetches job state instead.
   */
  async userEvents(userId: string, after: string | undefined, limit = 100): Promise<EventPage> {
    if (after === undefined) {
      const latest = await this.jobs.latestUserEventId(userId);
      return { items: [], nextCursor: (latest ?? 0n).toString() };
    }
    const events = await retainedUserEventsAfter(this.jobs, userId, BigInt(after), limit + 1);
    if (!events) {
      throw new GoneException(
        `after ${after} is not an event of yours that is still retained; refetch job state over REST`,
      );
    }
    return eventPage(events, limit);
  }

  async log(userId: string, id: string): Promise<{ content: string; truncated: boolean }> {
    const job = await this.get(userId, id);
    return (await this.jobs.findLog(job.id)) ?? { content: '', truncated: false };
  }

  async cancel(userId: string, id: string): Promise<Job> {
    const job = await this.get(userId, id);
    this.assertNotFinished(job);
    // Record the cancellation before telling the queue: a running job's worker, once told to
    // stop, records a cancellation of its own and must not win the race (which turned this
    // request into a 409). A worker that picks the job up meanwhile sees it cancelled and skips it.
    const cancelled = await this.lifecycle.apply(job.id, {
      type: 'cancelled',
      message: 'cancelled by the user',
    });
    if (!cancelled) {
      this.assertNotFinished(await this.get(userId, id));
      return job;
    }
    await this.queues.cancel(job.kind, job.id, job.userId);
    // Also here, not only in the parent's worker: that worker may be gone.
    await cancelSteps({ jobs: this.jobs, lifecycle: this.lifecycle, queues: this.queues }, job.id);
    return cancelled;
  }

  async retry(userId: string, id: string): Promise<Job> {
    const job = await this.get(userId, id);
    if (job.status !== 'error') {
      throw new ConflictException(
        `only a job that ended in error can be retried; this one is ${job.status}`,
      );
    }
    const requeued = await this.lifecycle.apply(job.id, { type: 'requeued' });
    if (!requeued) throw new ConflictException('job changed while being retried; fetch it again');
    try {
      await this.queues.requeue(requeued);
    } catch (error) {
      await this.lifecycle.apply(job.id, { type: 'error', error: job.error ?? 'retry failed' });
      throw error;
    }
    return requeued;
  }

  /** A workspace kind runs only in a ready project of the caller's. */
  private async readyWorkspace(userId: string, projectId: string): Promise<string> {
    const project = isUuid(projectId) ? await this.projects.findForOwner(projectId, userId) : null;
    if (!project) throw new NotFoundException(`project ${projectId} not found`);
    if (project.status !== 'ready') {
      throw new ConflictException(`project ${projectId} is not ready (status ${project.status})`);
    }
    return project.workspacePath;
  }

  private sameRequest(existing: Job, hash: string | null): Job {
    if (existing.idempotencyHash !== hash) {
      throw new ConflictException(
        'Idempotency-Key was already used with a different request body for this kind',
      );
    }
    return existing;
  }

  private assertNotFinished(job: Job): void {
    if (isTerminal(job.status)) {
      throw new ConflictException(`job is already ${job.status}`);
    }
  }
}
