import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { TokenUsageView } from '../code-generation/code-generation.result';

export const CHANGE_OUTCOMES = ['passed', 'tests-failing', 'untested'] as const;
export type ChangeOutcome = (typeof CHANGE_OUTCOMES)[number];
export const CHANGE_STOP_REASONS = [
  'passed',
  'max-iterations',
  'no-progress',
  'budget',
  'untested',
] as const;
export type ChangeStopReason = (typeof CHANGE_STOP_REASONS)[number];

export class ChangeIterationView {
  @ApiProperty({ format: 'uuid' })
  generationJobId!: string;

  @ApiPropertyOptional({ format: 'uuid' })
  testJobId?: string;

  @ApiPropertyOptional({ type: 'integer', nullable: true })
  passed?: number | null;

  @ApiPropertyOptional({ type: 'integer', nullable: true })
  failed?: number | null;

  @ApiPropertyOptional({ type: [String], description: 'Names of the failing tests' })
  failing?: string[];
}

export class ChangePullRequestView {
  @ApiProperty()
  number!: number;

  @ApiProperty()
  url!: string;

  @ApiProperty()
  draft!: boolean;

  @ApiProperty({ enum: ['created', 'updated'] })
  operation!: 'created' | 'updated';
}

export class ChangeResultView {
  @ApiProperty({ enum: CHANGE_OUTCOMES })
  outcome!: ChangeOutcome;

  @ApiProperty({ enum: CHANGE_STOP_REASONS })
  stopReason!: ChangeStopReason;

  @ApiProperty({ type: [ChangeIterationView] })
  iterations!: ChangeIterationView[];

  @ApiProperty({ type: [String], description: 'Workspace paths the generations wrote' })
  filesChanged!: string[];

  @ApiProperty({ type: TokenUsageView, description: 'Summed over all generations' })
  usage!: TokenUsageView;

  @ApiProperty({ type: ChangePullRequestView, nullable: true })
  pullRequest!: ChangePullRequestView | null;
}

export type ChangeIteration = {
  generationJobId: string;
  testJobId?: string;
  passed?: number | null;
  failed?: number | null;
  failing?: string[];
};

/** What the processor returns (a type alias, so it is assignable to the core's JsonValue). */
export type ChangeResult = {
  outcome: ChangeOutcome;
  stopReason: ChangeStopReason;
  iterations: ChangeIteration[];
  filesChanged: string[];
  usage: { inputTokens: number; outputTokens: number; totalTokens: number };
  pullRequest: {
    number: number;
    url: string;
    draft: boolean;
    operation: 'created' | 'updated';
  } | null;
};
