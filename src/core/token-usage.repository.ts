import { Inject, Injectable } from '@nestjs/common';
import type { PrismaClient } from '../generated/prisma/client';
import { PRISMA } from '../database/database.tokens';
import { guardDependency } from '../common/dependency.errors';

/** One user's tokens of one UTC day, provider and model. */
export interface TokenUsageRow {
  userId: string;
  /** YYYY-MM-DD (UTC). */
  day: string;
  provider: string;
  model: string;
  inputTokens: number;
  outputTokens: number;
}

/** The midnight (UTC) that starts `day` (YYYY-MM-DD), as the Date a DATE column takes. */
export function utcDay(day: string): Date {
  return new Date(`${day}T00:00:00.000Z`);
}

/**
 * Reads of the token usage that conveyor_write_jobs writes with each `done` (docs/usage.md);
 * nothing here writes it.
 */
@Injectable()
export class TokenUsageRepository {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  /** The user's input + output tokens of one UTC day. */
  dayTotal(userId: string, day: string): Promise<number> {
    return guardDependency('database', async () => {
      const { _sum: sum } = await this.prisma.tokenUsage.aggregate({
        where: { userId, day: utcDay(day) },
        _sum: { inputTokens: true, outputTokens: true },
      });
      return Number(sum.inputTokens ?? 0n) + Number(sum.outputTokens ?? 0n);
    });
  }

  /** Rows from `from` to `to` (UTC days, both included), of one user or of everyone. */
  rows(from: string, to: string, userId?: string): Promise<TokenUsageRow[]> {
    return guardDependency('database', async () => {
      const rows = await this.prisma.tokenUsage.findMany({
        where: {
          day: { gte: utcDay(from), lte: utcDay(to) },
          ...(userId !== undefined && { userId }),
        },
        orderBy: [{ userId: 'asc' }, { day: 'asc' }, { provider: 'asc' }, { model: 'asc' }],
      });
      return rows.map((row) => ({
        userId: row.userId,
        day: row.day.toISOString().slice(0, 10),
        provider: row.provider,
        model: row.model,
        inputTokens: Number(row.inputTokens),
        outputTokens: Number(row.outputTokens),
      }));
    });
  }
}
