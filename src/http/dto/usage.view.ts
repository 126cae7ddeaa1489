import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, Matches } from 'class-validator';
import type { TokenUsageRow } from '../../core/token-usage.repository';

const DAY = /^\d{4}-\d{2}-\d{2}$/;

export class UsageQuery {
  @ApiPropertyOptional({
    format: 'date',
    description: 'First UTC day (default: 29 days before to)',
  })
  @IsOptional()
  @Matches(DAY, { message: 'from must be a date (YYYY-MM-DD)' })
  from?: string;

  @ApiPropertyOptional({ format: 'date', description: 'Last UTC day, included (default: today)' })
  @IsOptional()
  @Matches(DAY, { message: 'to must be a date (YYYY-MM-DD)' })
  to?: string;
}

export class TokenTotalsView {
  @ApiProperty() inputTokens!: number;
  @ApiProperty() outputTokens!: number;
  @ApiProperty({ description: 'inputTokens + outputTokens' }) totalTokens!: number;
}

export class ModelUsageView extends TokenTotalsView {
  @ApiProperty({ example: 'anthropic' }) provider!: string;
  @ApiProperty() model!: string;
}

export class DayUsageView extends ModelUsageView {
  @ApiProperty({ format: 'date', description: 'UTC day' }) day!: string;
}

export class UsageSummaryView extends TokenTotalsView {
  @ApiProperty({ type: [ModelUsageView], description: 'Totals per provider and model' })
  models!: ModelUsageView[];

  @ApiProperty({ type: [DayUsageView], description: 'Per UTC day, provider and model' })
  days!: DayUsageView[];
}

export class UsageView extends UsageSummaryView {
  @ApiProperty({ format: 'date' }) from!: string;
  @ApiProperty({ format: 'date' }) to!: string;
}

export class UserUsageView extends UsageSummaryView {
  @ApiProperty() userId!: string;
}

export class AdminUsageView {
  @ApiProperty({ format: 'date' }) from!: string;
  @ApiProperty({ format: 'date' }) to!: string;
  @ApiProperty({ type: [UserUsageView] }) users!: UserUsageView[];
}

function totals(input: number, output: number): TokenTotalsView {
  return { inputTokens: input, outputTokens: output, totalTokens: input + output };
}

/** One user's rows (in day, provider, model order) as totals per model and per day. */
export function summarize(rows: TokenUsageRow[]): UsageSummaryView {
  const models = new Map<string, ModelUsageView>();
  let input = 0;
  let output = 0;
  for (const row of rows) {
    input += row.inputTokens;
    output += row.outputTokens;
    const key = `${row.provider}\t${row.model}`;
    const seen = models.get(key);
    const sum = totals(
      (seen?.inputTokens ?? 0) + row.inputTokens,
      (seen?.outputTokens ?? 0) + row.outputTokens,
    );
    models.set(key, { provider: row.provider, model: row.model, ...sum });
  }
  return {
    ...totals(input, output),
    models: [...models.values()],
    days: rows.map((row) => ({
      day: row.day,
      provider: row.provider,
      model: row.model,
      ...totals(row.inputTokens, row.outputTokens),
    })),
  };
}
