import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import type { LlmProviderName } from '../config/llm.config';
import { RedisService } from '../redis/redis.service';

export interface CircuitState {
  open: boolean;
  /** Consecutive failures counted so far. */
  failures: number;
  /** When an open circuit lets a call through again (ms since the epoch), else null. */
  retryAt: number | null;
}

/** Failures in a row are forgotten after this long without another one. */
const FAILURE_MEMORY_SEC = 3600;

/**
 * A provider that failed LLM_CIRCUIT_FAILURES times in a row is skipped for
 * LLM_CIRCUIT_COOLDOWN_MS. State lives in Redis so every worker and api process agrees.
 * After the cool-down calls go through again (half-open): one more failure opens it again at
 * once, a success closes it.
 */
@Injectable()
export class LlmCircuitBreaker {
  private readonly logger = new Logger('LlmCircuitBreaker');

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly redis: RedisService,
  ) {}

  async state(provider: LlmProviderName): Promise<CircuitState> {
    try {
      const [failures, ttl] = await Promise.all([
        this.redis.client.get(this.key(provider, 'failures')),
        this.redis.client.pttl(this.key(provider, 'open')),
      ]);
      const open = ttl > 0;
      return { open, failures: Number(failures ?? 0), retryAt: open ? Date.now() + ttl : null };
    } catch (error) {
      // Without Redis the breaker cannot know: let calls through rather than refuse them all.
      this.logger.warn(`circuit state of ${provider} unknown: ${(error as Error).message}`);
      return { open: false, failures: 0, retryAt: null };
    }
  }

  async recordFailure(provider: LlmProviderName): Promise<void> {
    const { circuitFailures, circuitCooldownMs } = this.config.llm;
    try {
      const failures = await this.redis.client.incr(this.key(provider, 'failures'));
      await this.redis.client.expire(this.key(provider, 'failures'), FAILURE_MEMORY_SEC);
      if (failures >= circuitFailures) {
        await this.redis.client.set(
          this.key(provider, 'open'),
          String(failures),
          'PX',
          circuitCooldownMs,
        );
        this.logger.warn(
          `${provider} failed ${failures} times in a row: skipped for ${circuitCooldownMs} ms`,
        );
      }
    } catch (error) {
      this.logger.warn(`circuit of ${provider} not updated: ${(error as Error).message}`);
    }
  }

  async recordSuccess(provider: LlmProviderName): Promise<void> {
    try {
      await this.redis.client.del(this.key(provider, 'failures'), this.key(provider, 'open'));
    } catch (error) {
      this.logger.warn(`circuit of ${provider} not reset: ${(error as Error).message}`);
    }
  }

  private key(provider: LlmProviderName, what: 'failures' | 'open'): string {
    return this.redis.key('llm', 'circuit', provider, what);
  }
}
