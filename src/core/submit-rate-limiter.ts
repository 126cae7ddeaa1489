import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { RedisService } from '../redis/redis.service';
import { guardDependency } from '../common/dependency.errors';

export class SubmitRateLimitedError extends Error {
  override readonly name = 'SubmitRateLimitedError';
  constructor(readonly retryAfterSec: number) {
    super(`submit limit reached; retry in ${retryAfterSec} s`);
  }
}

const WINDOW_MS = 60_000;

/** Per-user submit budget, counted in Redis so that every api instance shares it. */
@Injectable()
export class SubmitRateLimiter {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly redis: RedisService,
  ) {}

  async consume(userId: string, now = Date.now()): Promise<void> {
    const window = Math.floor(now / WINDOW_MS);
    const key = this.redis.key('submit-limit', userId, String(window));
    // Two commands, leaving in one write (auto-pipelining), instead of a MULTI of four; should the
    // connection drop between them, the window's key only outlives its minute.
    const [count] = await guardDependency('redis', () =>
      Promise.all([this.redis.client.incr(key), this.redis.client.pexpire(key, WINDOW_MS)]),
    );
    if (count > this.config.submitLimitPerMinute) {
      throw new SubmitRateLimitedError(Math.ceil(((window + 1) * WINDOW_MS - now) / 1000));
    }
  }
}
