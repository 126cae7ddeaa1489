import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { RedisService } from '../redis/redis.service';
import type { LlmCompletion } from './llm.types';

const LOCK_TTL_MS = 30_000;
const LOCK_RENEW_MS = 10_000;
const POLL_MS = 100;

const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0`;
const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0`;

export interface Shared {
  completion: LlmCompletion;
  /** Answered without this caller calling a provider (from the cache or another's call). */
  cached: boolean;
}

function abortable<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return abortable(new Promise<void>((resolve) => setTimeout(resolve, ms)), signal);
}

/**
 * Answers identical requests from Redis for LLM_CACHE_TTL_SEC, and lets identical requests in
 * flight share one provider call: within a process through one promise, across processes
 * through a Redis lock whose holder stores the result the others wait for.
 */
@Injectable()
export class LlmCache {
  private readonly logger = new Logger('LlmCache');
  private readonly inflight = new Map<string, Promise<LlmCompletion>>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly redis: RedisService,
  ) {}

  get enabled(): boolean {
    return this.config.llm.cacheTtlSec > 0;
  }

  async share(
    key: string,
    call: () => Promise<LlmCompletion>,
    signal: AbortSignal,
  ): Promise<Shared> {
    for (;;) {
      const local = this.inflight.get(key);
      if (local) {
        try {
          return { completion: await abortable(local, signal), cached: true };
        } catch (error) {
          if (signal.aborted) throw error;
          // The other caller's call failed: this one tries for itself.
          continue;
        }
      }
      const token = randomBytes(16).toString('hex');
      let locked: string | null;
      try {
        const stored = await this.read(key);
        if (stored) return { completion: stored, cached: true };
        locked = await this.redis.client.set(this.lockKey(key), token, 'PX', LOCK_TTL_MS, 'NX');
      } catch (error) {
        // The cache only saves calls: without Redis the request is answered all the same.
        this.logger.warn(`cache unavailable, calling the provider: ${(error as Error).message}`);
        return { completion: await call(), cached: false };
      }
      if (locked !== 'OK') {
        await this.waitForOther(key, signal);
        continue;
      }
      const own = this.lead(key, token, call);
      this.inflight.set(key, own);
      try {
        return { completion: await own, cached: false };
      } finally {
        this.inflight.delete(key);
      }
    }
  }

  private async lead(key: string, token: string, call: () => Promise<LlmCompletion>) {
    const renew = setInterval(() => {
      this.redis.client
        .eval(RENEW, 1, this.lockKey(key), token, String(LOCK_TTL_MS))
        .catch(() => undefined);
    }, LOCK_RENEW_MS);
    try {
      const completion = await call();
      try {
        await this.redis.client.set(
          this.resultKey(key),
          JSON.stringify(completion),
          'EX',
          this.config.llm.cacheTtlSec,
        );
      } catch (error) {
        this.logger.warn(`answer not cached: ${(error as Error).message}`);
      }
      return completion;
    } finally {
      clearInterval(renew);
      await this.redis.client.eval(RELEASE, 1, this.lockKey(key), token).catch(() => undefined);
    }
  }

  /** Another process holds the call: wait until it stores the answer or lets the lock go. */
  private async waitForOther(key: string, signal: AbortSignal): Promise<void> {
    for (;;) {
      await pause(POLL_MS, signal);
      const [held, stored] = await Promise.all([
        this.redis.client.exists(this.lockKey(key)),
        this.redis.client.exists(this.resultKey(key)),
      ]).catch(() => [0, 0]);
      if (stored === 1 || held === 0) return;
    }
  }

  private async read(key: string): Promise<LlmCompletion | null> {
    const raw = await this.redis.client.get(this.resultKey(key));
    return raw === null ? null : (JSON.parse(raw) as LlmCompletion);
  }

  private resultKey(key: string): string {
    return this.redis.key('llm', 'cache', key);
  }

  private lockKey(key: string): string {
    return this.redis.key('llm', 'cache-lock', key);
  }
}
