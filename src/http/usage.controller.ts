import { BadRequestException, Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentUser, RequireRole } from '../auth/auth.decorators';
import type { AuthUser } from '../auth/jwt.service';
import { TokenUsageRepository, type TokenUsageRow } from '../core/token-usage.repository';
import { AdminUsageView, summarize, UsageQuery, UsageView } from './dto/usage.view';

const DAY_MS = 86_400_000;
const DEFAULT_DAYS = 30;
const MAX_DAYS = 366;

function day(value: string, field: 'from' | 'to'): Date {
  const date = new Date(`${value}T00:00:00.000Z`);
  if (Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== value) {
    throw new BadRequestException(`${field} must be a date (YYYY-MM-DD)`);
  }
  return date;
}

/** The query's UTC days, both included: by default the 30 days that end today. */
function range(query: UsageQuery, now = new Date()): { from: string; to: string } {
  const to =
    query.to === undefined ? new Date(now.toISOString().slice(0, 10)) : day(query.to, 'to');
  const from =
    query.from === undefined
      ? new Date(to.getTime() - (DEFAULT_DAYS - 1) * DAY_MS)
      : day(query.from, 'from');
  if (from > to) throw new BadRequestException('from must not be after to');
  if ((to.getTime() - from.getTime()) / DAY_MS >= MAX_DAYS) {
    throw new BadRequestException(`from must be at most ${MAX_DAYS} days before to`);
  }
  return { from: from.toISOString().slice(0, 10), to: to.toISOString().slice(0, 10) };
}

/** LLM token usage (docs/usage.md): the caller's, and everyone's for admins. */
@ApiTags('usage')
@ApiBearerAuth()
@Controller()
export class UsageController {
  constructor(private readonly usage: TokenUsageRepository) {}

  @Get('usage')
  @ApiOperation({ summary: "The caller's LLM tokens per provider and model, and per UTC day" })
  @ApiOkResponse({ type: UsageView })
  async mine(@CurrentUser() user: AuthUser, @Query() query: UsageQuery): Promise<UsageView> {
    const { from, to } = range(query);
    return { from, to, ...summarize(await this.usage.rows(from, to, user.id)) };
  }

  @Get('admin/usage')
  @RequireRole('admin')
  @ApiOperation({ summary: "Every user's LLM tokens, per user (admin role)" })
  @ApiOkResponse({ type: AdminUsageView })
  async everyone(@Query() query: UsageQuery): Promise<AdminUsageView> {
    const { from, to } = range(query);
    const byUser = new Map<string, TokenUsageRow[]>();
    for (const row of await this.usage.rows(from, to)) {
      let rows = byUser.get(row.userId);
      if (!rows) byUser.set(row.userId, (rows = []));
      rows.push(row);
    }
    return {
      from,
      to,
      users: [...byUser].map(([userId, rows]) => ({ userId, ...summarize(rows) })),
    };
  }
}
