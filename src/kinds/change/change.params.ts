import { ApiProperty, ApiPropertyOptional, PickType } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsBoolean,
  IsInt,
  IsOptional,
  IsString,
  Length,
  Max,
  Min,
  ValidateNested,
} from 'class-validator';
import { CodeGenerationParams } from '../code-generation/code-generation.params';
import { PrCreationParams } from '../pr-creation/pr-creation.params';

export const MAX_ITERATIONS_LIMIT = 10;
export const DEFAULT_MAX_ITERATIONS = 3;
export const MAX_CONTEXT_LIMIT = 50;

export class ChangeContextParams {
  @ApiPropertyOptional({
    description: "Give the model the top chunks of the project's code search for the prompt",
    default: 'true when the project is indexed',
  })
  @IsOptional()
  @IsBoolean()
  search?: boolean;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_CONTEXT_LIMIT, default: 8 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_CONTEXT_LIMIT)
  limit?: number;
}

export class ChangeBudgetParams {
  @ApiProperty({
    description: 'Input + output tokens over all generations of the change',
    minimum: 1,
    maximum: 100_000_000,
  })
  @IsInt()
  @Min(1)
  @Max(100_000_000)
  maxTokens!: number;
}

export class ChangePullRequestParams extends PickType(PrCreationParams, [
  'title',
  'body',
  'sourceBranch',
  'targetBranch',
  'draft',
  'labels',
  'reviewers',
] as const) {
  @ApiPropertyOptional({
    default: true,
    description: 'Tests still failing at the end: open a draft pull request listing them',
  })
  @IsOptional()
  @IsBoolean()
  draftOnFailure?: boolean;
}

export class ChangeParams extends PickType(CodeGenerationParams, [
  'prompt',
  'files',
  'provider',
  'model',
  'maxOutputTokens',
] as const) {
  @ApiPropertyOptional({ type: ChangeContextParams })
  @IsOptional()
  @ValidateNested()
  @Type(() => ChangeContextParams)
  context?: ChangeContextParams;

  @ApiPropertyOptional({
    description: 'Runs after each generation; omitted: no test step (outcome untested)',
    maxLength: 2000,
    example: 'npm test',
  })
  @IsOptional()
  @IsString()
  @Length(1, 2000)
  testCommand?: string;

  @ApiPropertyOptional({
    description: 'Generations in all, the first one included',
    minimum: 1,
    maximum: MAX_ITERATIONS_LIMIT,
    default: DEFAULT_MAX_ITERATIONS,
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_ITERATIONS_LIMIT)
  maxIterations?: number;

  @ApiPropertyOptional({ type: ChangeBudgetParams })
  @IsOptional()
  @ValidateNested()
  @Type(() => ChangeBudgetParams)
  budget?: ChangeBudgetParams;

  @ApiPropertyOptional({
    type: ChangePullRequestParams,
    description: 'Omitted: the changes stay in the workspace',
  })
  @IsOptional()
  @ValidateNested()
  @Type(() => ChangePullRequestParams)
  pullRequest?: ChangePullRequestParams;
}
