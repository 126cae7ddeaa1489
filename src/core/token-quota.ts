import { HttpException, HttpStatus, Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { TokenUsageRepository } from './token-usage.repository';

const DAY_MS = 86_400_000;

/**
 * The user's tokens of today (UTC) reached USER_TOKEN_QUOTA_PER_DAY. An HttpException, so REST
 * and the MCP tools answer it alike (429), and ctx.child refuses a step with it as the cause.
 */
export class TokenQuotaExceededError extends HttpException {
  override readonly name = 'TokenQuotaExceededError';
  constructor(
    readonly quota: number,
    readonly retryAfterSec: number,
  ) {
    super(
      `daily token quota of ${quota} reached; it resets at the next UTC midnight (in ${retryAfterSec} s)`,
      HttpStatus.TOO_MANY_REQUESTS,
    );
  }
}

/** USER_TOKEN_QUOTA_PER_DAY, checked at submit of the kinds that declare `quota: 'llm-tokens'`. */
@Injectable()
export class TokenQuota {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly usage: TokenUsageRepository,
  ) {}

  async check(userId: string, now = new Date()): Promise<void> {
    const quota = this.config.userTokenQuotaPerDay;
    if (quota === null) return;
    const today = now.toISOString().slice(0, 10);
    if ((await this.usage.dayTotal(userId, today)) < quota) return;
    const midnight = Math.floor(now.getTime() / DAY_MS + 1) * DAY_MS;
    throw new TokenQuotaExceededError(quota, Math.ceil((midnight - now.getTime()) / 1000));
  }
}
