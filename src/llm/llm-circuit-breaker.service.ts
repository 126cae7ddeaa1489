import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import type { LlmProviderName } from '../config/llm.config';
import { hashTag } from '../redis/redis-keys';
import { RedisService } from '../redis/redis.service';

export interface CircuitState {
  open: boolean;
  /** Consecutive failures counted so far. */
  failures: number;
  /** When an open circuit lets a call through again (ms since the epoch), else null. */
  retryAt: number | null;
}

export interface CircuitKeys {
  failures: string;
  open: string;
}

/** One provider's keys share its tag: a success deletes both in one command. */
export function circuitKeys(prefix: string, provider: string): CircuitKeys {
  const tag = hashTag(provider);
  return {
    failures: `${prefix}:llm:circuit:${tag}:failures`,
    open: `${prefix}:llm:circuit:${tag}:open`,
  };
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
        this.redis.client.get(this.keys(provider).failures),
        this.redis.client.pttl(this.keys(provider).open),
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
      const failures = await this.redis.client.incr(this.keys(provider).failures);
      await this.redis.client.expire(this.keys(provider).failures, FAILURE_MEMORY_SEC);
      if (failures >= circuitFailures) {
        await this.redis.client.set(
          this.keys(provider).open,
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
      const { failures, open } = this.keys(provider);
      await this.redis.client.del(failures, open);
    } catch (error) {
      // Left as it is, the count of failures makes the next single one open the circuit again.
      this.logger.error(`circuit of ${provider} not reset: ${(error as Error).message}`);
    }
  }

  private keys(provider: LlmProviderName): CircuitKeys {
    return circuitKeys(this.config.prefix, provider);
  }
}
