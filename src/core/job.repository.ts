import { Inject, Injectable } from '@nestjs/common';
import { Prisma, type Job, type JobEvent, type PrismaClient } from '../generated/prisma/client';
import { PRISMA } from '../database/database.tokens';
import { guardDependency } from './job.errors';
import { planTransition, type EventDraft, type JobChange } from './job-transition';
import type { JobStatus, JsonValue } from './job.types';

export interface NewJob {
  id: string;
  kind: string;
  userId: string;
  projectId: string;
  requestId: string | null;
  priority: number;
  params: JsonValue;
  maxAttempts: number;
  idempotencyKey: string | null;
  idempotencyHash: string | null;
}

export interface JobListQuery {
  userId: string;
  kind?: string;
  status?: JobStatus;
  limit: number;
  after?: { createdAt: Date; id: string };
}

/** An appended event and the id of the same user's event before it (null for their first). */
export type StoredEvent = JobEvent & { previousEventId: bigint | null };

export interface JobWithEvent {
  job: Job;
  event: StoredEvent;
}

export type CreateOutcome =
  { created: true; job: Job; event: StoredEvent } | { created: false; job: Job };

function json(value: JsonValue | null | undefined) {
  if (value === undefined) return undefined;
  return value === null ? Prisma.DbNull : (value as Prisma.InputJsonValue);
}

/** All reads and writes of jobs and their events. */
@Injectable()
export class JobRepository {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  /** Inserts the job and its `created` event, or returns the job an idempotency key already made. */
  create(data: NewJob): Promise<CreateOutcome> {
    return guardDependency('database', async () => {
      try {
        return await this.prisma.$transaction(async (tx) => {
          await this.lockUserEvents(tx, data.userId);
          const job = await tx.job.create({
            data: { ...data, status: 'queued', params: data.params as Prisma.InputJsonValue },
          });
          const event = await this.appendEvent(tx, job, {
            status: 'created',
            progress: 0,
            message: 'queued',
            result: null,
            error: null,
          });
          return { created: true as const, job, event };
        });
      } catch (error) {
        if (
          data.idempotencyKey !== null &&
          error instanceof Prisma.PrismaClientKnownRequestError &&
          error.code === 'P2002'
        ) {
          const job = await this.prisma.job.findFirst({
            where: { userId: data.userId, kind: data.kind, idempotencyKey: data.idempotencyKey },
          });
          if (job) return { created: false as const, job };
        }
        throw error;
      }
    });
  }

  findByIdempotencyKey(userId: string, kind: string, key: string): Promise<Job | null> {
    return guardDependency('database', () =>
      this.prisma.job.findFirst({ where: { userId, kind, idempotencyKey: key } }),
    );
  }

  findById(id: string): Promise<Job | null> {
    return guardDependency('database', () => this.prisma.job.findUnique({ where: { id } }));
  }

  findForUser(id: string, userId: string): Promise<Job | null> {
    return guardDependency('database', () => this.prisma.job.findFirst({ where: { id, userId } }));
  }

  list(query: JobListQuery): Promise<Job[]> {
    const { after } = query;
    return guardDependency('database', () =>
      this.prisma.job.findMany({
        where: {
          userId: query.userId,
          ...(query.kind !== undefined && { kind: query.kind }),
          ...(query.status !== undefined && { status: query.status }),
          ...(after && {
            OR: [
              { createdAt: { lt: after.createdAt } },
              { createdAt: after.createdAt, id: { lt: after.id } },
            ],
          }),
        },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: query.limit,
      }),
    );
  }

  events(jobId: string, afterId: bigint | undefined, limit: number): Promise<JobEvent[]> {
    return guardDependency('database', () =>
      this.prisma.jobEvent.findMany({
        where: { jobId, ...(afterId !== undefined && { id: { gt: afterId } }) },
        orderBy: { id: 'asc' },
        take: limit,
      }),
    );
  }

  delete(id: string): Promise<void> {
    return guardDependency('database', async () => {
      await this.prisma.job.deleteMany({ where: { id } });
    });
  }

  /**
   * The one path by which a job's state changes: the row is locked, the change checked against
   * the state machine, the row updated and the event appended in one transaction. Null when the
   * change is not allowed from the job's current state (e.g. progress after done).
   */
  transition(jobId: string, change: JobChange): Promise<JobWithEvent | null> {
    return guardDependency('database', () =>
      this.prisma.$transaction(async (tx) => {
        const locked = await tx.$queryRaw<{ id: string }[]>`
          SELECT id FROM "Job" WHERE id = ${jobId}::uuid FOR UPDATE`;
        if (locked.length === 0) return null;
        const current = await tx.job.findUniqueOrThrow({ where: { id: jobId } });
        const plan = planTransition(current, change, new Date());
        if (!plan) return null;
        const { result, ...rest } = plan.update;
        await this.lockUserEvents(tx, current.userId);
        const job = await tx.job.update({
          where: { id: jobId },
          data: { ...rest, ...(result !== undefined && { result: json(result) }) },
        });
        const event = await this.appendEvent(tx, job, plan.event);
        return { job, event };
      }),
    );
  }

  /**
   * Event ids come from one sequence; holding a per-user lock until commit makes each user's
   * events commit in id order, so a reader never sees id n+1 before id n.
   */
  private async lockUserEvents(tx: Prisma.TransactionClient, userId: string): Promise<void> {
    await tx.$queryRaw`SELECT 1 AS locked FROM (SELECT pg_advisory_xact_lock(hashtext(${userId}))) AS l`;
  }

  /** Must run after lockUserEvents, in a later statement, so that max(id) sees every commit. */
  private async appendEvent(
    tx: Prisma.TransactionClient,
    job: Job,
    draft: EventDraft,
  ): Promise<StoredEvent> {
    const [row] = await tx.$queryRaw<{ previous: bigint | null }[]>`
      SELECT max(id) AS previous FROM "JobEvent" WHERE "userId" = ${job.userId}`;
    const event = await tx.jobEvent.create({
      data: {
        jobId: job.id,
        userId: job.userId,
        kind: job.kind,
        status: draft.status,
        progress: draft.progress,
        message: draft.message,
        result: json(draft.result),
        error: draft.error,
      },
    });
    return { ...event, previousEventId: row?.previous ?? null };
  }

  /** A user's events after a cursor, in id order: the replay and gap-filling read. */
  userEventsAfter(userId: string, afterId: bigint, limit: number): Promise<JobEvent[]> {
    return guardDependency('database', () =>
      this.prisma.jobEvent.findMany({
        where: { userId, id: { gt: afterId } },
        orderBy: { id: 'asc' },
        take: limit,
      }),
    );
  }

  latestUserEventId(userId: string): Promise<bigint | null> {
    return guardDependency('database', async () => {
      const latest = await this.prisma.jobEvent.findFirst({
        where: { userId },
        orderBy: { id: 'desc' },
        select: { id: true },
      });
      return latest?.id ?? null;
    });
  }

  userEventExists(userId: string, id: bigint): Promise<boolean> {
    return guardDependency('database', async () => {
      const found = await this.prisma.jobEvent.findFirst({
        where: { userId, id },
        select: { id: true },
      });
      return found !== null;
    });
  }

  saveLog(jobId: string, content: string, truncated: boolean): Promise<void> {
    return guardDependency('database', async () => {
      await this.prisma.jobLog.upsert({
        where: { jobId },
        create: { jobId, content, truncated },
        update: { content, truncated },
      });
    });
  }

  findLog(jobId: string): Promise<{ content: string; truncated: boolean } | null> {
    return guardDependency('database', () =>
      this.prisma.jobLog.findUnique({
        where: { jobId },
        select: { content: true, truncated: true },
      }),
    );
  }

  /** Drops events older than the retention; the Job rows keep their final state. */
  pruneEvents(olderThan: Date): Promise<number> {
    return guardDependency('database', async () => {
      const { count } = await this.prisma.jobEvent.deleteMany({
        where: { createdAt: { lt: olderThan } },
      });
      return count;
    });
  }
}
