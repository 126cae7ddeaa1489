import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import { JOB_STATUSES, type JobStatus } from '../../core/job.types';

export class ListJobsQuery {
  @ApiPropertyOptional({ description: 'Only jobs of this kind' })
  @IsOptional()
  @IsString()
  @Matches(/^[a-z][a-z0-9-]{0,62}$/, { message: 'kind must be a job kind name' })
  kind?: string;

  @ApiPropertyOptional({ enum: JOB_STATUSES })
  @IsOptional()
  @IsIn(JOB_STATUSES)
  status?: JobStatus;

  @ApiPropertyOptional({ format: 'uuid', description: "Only this job's steps" })
  @IsOptional()
  @IsUUID('all', { message: 'parentId must be a job id (uuid)' })
  parentId?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 20 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;

  @ApiPropertyOptional({ description: 'nextCursor of the previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  cursor?: string;
}

export class JobEventsQuery {
  @ApiPropertyOptional({ description: 'Only events after this eventId' })
  @IsOptional()
  @Matches(/^\d{1,18}$/, { message: 'after must be an eventId (digits)' })
  after?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 1000, default: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;
}

export class CleanQueueDto {
  @ApiPropertyOptional({
    description: 'Remove finished jobs older than this many ms',
    minimum: 0,
    default: 3_600_000,
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  graceMs?: number;

  @ApiPropertyOptional({ description: 'At most this many per state', minimum: 1, default: 1000 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100_000)
  limit?: number;
}
