import { Inject, Injectable } from '@nestjs/common';
import type Redis from 'ioredis';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { RedisService } from '../redis/redis.service';
import { guardDependency } from './job.errors';

export class SubmitRateLimitedError extends Error {
  override readonly name = 'SubmitRateLimitedError';
  constructor(readonly retryAfterSec: number) {
    super(`submit limit reached; retry in ${retryAfterSec} s`);
  }
}

const WINDOW_MS = 60_000;

/** INCR and, on the window's first submit, PEXPIRE: one EVALSHA instead of a MULTI of four. */
const CONSUME = `local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return count`;

/** Per-user submit budget, counted in Redis so that every api instance shares it. */
@Injectable()
export class SubmitRateLimiter {
  private readonly client: Redis & {
    conveyorSubmitConsume(key: string, windowMs: number): Promise<number>;
  };

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly redis: RedisService,
  ) {
    redis.client.defineCommand('conveyorSubmitConsume', { numberOfKeys: 1, lua: CONSUME });
    this.client = redis.client as typeof this.client;
  }

  async consume(userId: string, now = Date.now()): Promise<void> {
    const window = Math.floor(now / WINDOW_MS);
    const key = this.redis.key('submit-limit', userId, String(window));
    const count = await guardDependency('redis', () =>
      this.client.conveyorSubmitConsume(key, WINDOW_MS),
    );
    if (count > this.config.submitLimitPerMinute) {
      throw new SubmitRateLimitedError(Math.ceil(((window + 1) * WINDOW_MS - now) / 1000));
    }
  }
}
