import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsObject, IsOptional, IsString, Length } from 'class-validator';
import { PRIORITIES, type PriorityName } from '../job.types';

export class SubmitJobDto {
  @ApiProperty({ description: 'The project the job works on', maxLength: 200 })
  @IsString()
  @Length(1, 200)
  projectId!: string;

  @ApiProperty({
    description: "The kind's parameters; see the *Params schemas",
    type: 'object',
    additionalProperties: true,
  })
  @IsObject()
  params!: Record<string, unknown>;

  @ApiPropertyOptional({ enum: Object.keys(PRIORITIES), default: 'medium' })
  @IsOptional()
  @IsIn(Object.keys(PRIORITIES))
  priority?: PriorityName;

  @ApiPropertyOptional({ description: "The caller's own correlation id", maxLength: 200 })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  requestId?: string;
}
