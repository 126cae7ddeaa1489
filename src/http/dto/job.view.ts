import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { Job } from '../../generated/prisma/client';
import { JOB_EVENT_STATUSES, JOB_STATUSES, PRIORITIES, type JsonValue } from '../../core/job.types';
import type { JobEventView } from '../../core/job-event.view';

const PRIORITY_NAMES = new Map(Object.entries(PRIORITIES).map(([name, value]) => [value, name]));

/** One step of a parent job (docs/child-jobs.md). */
export class JobStepView {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ description: "The step's key among its parent's steps" }) key!: string;
  @ApiProperty() kind!: string;
  @ApiProperty({ enum: JOB_STATUSES }) status!: string;
}

export class JobView {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() kind!: string;
  @ApiProperty({ enum: JOB_STATUSES }) status!: string;
  @ApiProperty({ enum: Object.keys(PRIORITIES) }) priority!: string;
  @ApiProperty({ minimum: 0, maximum: 100 }) progress!: number;
  @ApiProperty({ nullable: true, type: String }) message!: string | null;
  @ApiProperty() projectId!: string;
  @ApiProperty({ nullable: true, type: String }) requestId!: string | null;
  @ApiProperty({ type: 'object', additionalProperties: true }) params!: JsonValue;
  @ApiProperty({ nullable: true, type: 'object', additionalProperties: true })
  result!: JsonValue | null;
  @ApiProperty({ nullable: true, type: String }) error!: string | null;
  @ApiProperty() attempts!: number;
  @ApiProperty() maxAttempts!: number;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) startedAt!: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) finishedAt!: string | null;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;
  @ApiProperty({
    format: 'uuid',
    nullable: true,
    type: String,
    description: 'The job this one is a step of (docs/child-jobs.md)',
  })
  parentId!: string | null;
  @ApiPropertyOptional({
    type: [JobStepView],
    description: "The job's steps, oldest first (GET /jobs/:id only)",
  })
  children?: JobStepView[];

  static from(job: Job, children?: Job[]): JobView {
    return {
      id: job.id,
      kind: job.kind,
      status: job.status,
      priority: PRIORITY_NAMES.get(job.priority as 0) ?? String(job.priority),
      progress: job.progress,
      message: job.message,
      projectId: job.projectId,
      requestId: job.requestId,
      params: job.params as JsonValue,
      result: (job.result ?? null) as JsonValue | null,
      error: job.error,
      attempts: job.attempts,
      maxAttempts: job.maxAttempts,
      createdAt: job.createdAt.toISOString(),
      startedAt: job.startedAt?.toISOString() ?? null,
      finishedAt: job.finishedAt?.toISOString() ?? null,
      updatedAt: job.updatedAt.toISOString(),
      parentId: job.parentId,
      ...(children && {
        children: children.map((step) => ({
          id: step.id,
          key: step.childKey ?? '',
          kind: step.kind,
          status: step.status,
        })),
      }),
    };
  }
}

export class JobPageView {
  @ApiProperty({ type: [JobView] }) items!: JobView[];
  @ApiProperty({ nullable: true, type: String, description: 'Pass as cursor for the next page' })
  nextCursor!: string | null;
}

export class JobEventViewDto implements JobEventView {
  @ApiProperty({ description: 'Opaque, strictly increasing per user' }) eventId!: string;
  @ApiProperty({ format: 'uuid' }) jobId!: string;
  @ApiProperty() kind!: string;
  @ApiProperty({ enum: JOB_EVENT_STATUSES }) status!: JobEventView['status'];
  @ApiProperty() progress!: number;
  @ApiPropertyOptional() message?: string;
  @ApiPropertyOptional({ type: 'object', additionalProperties: true }) result?: JsonValue;
  @ApiPropertyOptional() error?: string;
  @ApiPropertyOptional({
    description: 'progress events: the output streamed since the previous event, at most 64 KiB',
  })
  output?: string;
  @ApiPropertyOptional({ format: 'uuid', description: "A step's events: its parent job" })
  parentId?: string;
  @ApiProperty({ format: 'date-time' }) at!: string;
}

export class JobEventPageView {
  @ApiProperty({ type: [JobEventViewDto] }) items!: JobEventViewDto[];
  @ApiProperty({ nullable: true, type: String, description: 'Pass as after for the next page' })
  nextCursor!: string | null;
}

export class QueueStatsView {
  @ApiProperty() kind!: string;
  @ApiProperty() paused!: boolean;
  @ApiProperty() waiting!: number;
  @ApiProperty() active!: number;
  @ApiProperty() prioritized!: number;
  @ApiProperty() delayed!: number;
  @ApiProperty() completed!: number;
  @ApiProperty() failed!: number;
}

export class CleanResultView {
  @ApiProperty() kind!: string;
  @ApiProperty() completed!: number;
  @ApiProperty() failed!: number;
}
