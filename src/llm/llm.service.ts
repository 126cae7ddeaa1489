import { createHash } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { streamText } from 'ai';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import {
  howToConfigure,
  OPENAI_COMPATIBLE_DEFAULT_BASE_URL,
  type LlmProviderConfig,
} from '../config/llm.config';
import { LlmCache } from './llm-cache.service';
import { LlmCircuitBreaker } from './llm-circuit-breaker.service';
import {
  classifyFailure,
  FirstTokenTimeoutError,
  LlmBadRequestError,
  LlmAttemptFailedError,
  LlmUnavailableError,
  type ClassifiedFailure,
} from './llm.errors';
import { endpointOf, languageModel } from './llm-models';
import { redact, secretsOf } from './llm-redaction';
import type { LlmCompletion, LlmFailover, LlmOutcome, LlmRequest } from './llm.types';
import { NonRetryableJobError } from '../core/job.errors';

/** A provider call that failed, already sorted (see classifyFailure). */
class ProviderCallFailure extends Error {
  constructor(readonly failure: ClassifiedFailure) {
    super(failure.message);
  }
}

type WarningLogger = (options: { warnings: unknown[]; provider: string; model: string }) => void;

/**
 * Streams one answer from the configured providers: failover before the first token, a circuit
 * breaker per provider, the Redis cache and in-flight sharing (docs/code-generation.md). Keys
 * never leave it.
 */
@Injectable()
export class LlmService {
  private readonly logger = new Logger('Llm');
  private readonly secrets: string[];

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly breaker: LlmCircuitBreaker,
    private readonly cache: LlmCache,
  ) {
    this.secrets = secretsOf(config.llm);
    // The SDK prints warnings with console.warn by default; route them through our logger.
    const log: WarningLogger = ({ warnings, provider, model }) => {
      for (const warning of warnings) {
        this.logger.warn(this.redact(`${provider} ${model}: ${JSON.stringify(warning)}`));
      }
    };
    (globalThis as { AI_SDK_LOG_WARNINGS?: WarningLogger }).AI_SDK_LOG_WARNINGS = log;
  }

  get providers(): readonly LlmProviderConfig[] {
    return this.config.llm.providers;
  }

  redact(text: string): string {
    return redact(text, this.secrets);
  }

  async generate(
    request: LlmRequest,
    signal: AbortSignal,
    onText: (text: string) => void,
  ): Promise<LlmOutcome> {
    const candidates = request.provider
      ? this.providers.filter((provider) => provider.name === request.provider)
      : this.providers;
    if (candidates.length === 0) {
      throw new NonRetryableJobError(
        request.provider
          ? `provider ${request.provider} is not configured (${howToConfigure(request.provider)})`
          : 'no LLM provider is configured: LLM_PROVIDERS leaves none (see docs/code-generation.md)',
      );
    }
    const failover: LlmFailover[] = [];
    const started = Date.now();
    for (const provider of candidates) {
      const circuit = await this.breaker.state(provider.name);
      if (circuit.open) {
        failover.push({
          provider: provider.name,
          error: `skipped: circuit open after ${circuit.failures} failures in a row, until ${new Date(circuit.retryAt ?? Date.now()).toISOString()}`,
        });
        continue;
      }
      const model = request.model ?? provider.model;
      let firstTokenAt: number | null = null;
      const emit = (text: string) => {
        firstTokenAt ??= Date.now();
        onText(text);
      };
      try {
        const call = () => this.stream(provider, model, request, signal, emit);
        const { completion, cached } =
          request.cache && this.cache.enabled
            ? await this.cache.share(this.cacheKey(provider, model, request), call, signal)
            : { completion: await call(), cached: false };
        if (cached) emit(completion.text);
        else await this.breaker.recordSuccess(provider.name);
        return {
          ...completion,
          cached,
          failover,
          timeToFirstTokenMs: firstTokenAt === null ? null : firstTokenAt - started,
        };
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        const failure =
          error instanceof ProviderCallFailure
            ? error.failure
            : classifyFailure(error, firstTokenAt !== null);
        if (failure.countsAgainstProvider) await this.breaker.recordFailure(provider.name);
        const line = this.redact(`${provider.name}: ${failure.message}`);
        this.logger.warn(`${line} (${failure.disposition})`);
        if (failure.disposition === 'fail-job') throw new LlmBadRequestError(line);
        if (failure.disposition === 'fail-attempt') throw new LlmAttemptFailedError(line);
        failover.push({ provider: provider.name, error: this.redact(failure.message) });
      }
    }
    throw this.unavailable(failover);
  }

  private unavailable(failover: LlmFailover[]): Error {
    const tried = failover.map((entry) => `${entry.provider}: ${entry.error}`).join('; ');
    const onlyDefault =
      this.providers.length === 1 &&
      this.providers[0].name === 'openai-compatible' &&
      this.providers[0].baseURL === OPENAI_COMPATIBLE_DEFAULT_BASE_URL &&
      failover.every((entry) => entry.error.startsWith('connection failed'));
    if (onlyDefault) {
      return new NonRetryableJobError(
        `no LLM provider is configured: set ANTHROPIC_API_KEY, OPENAI_API_KEY, ` +
          `GOOGLE_GENERATIVE_AI_API_KEY or XAI_API_KEY, or OPENAI_COMPATIBLE_BASE_URL to a ` +
          `running OpenAI-compatible server (nothing answers at ${OPENAI_COMPATIBLE_DEFAULT_BASE_URL})`,
      );
    }
    return new LlmUnavailableError(`no LLM provider could answer (${tried})`);
  }

  private cacheKey(provider: LlmProviderConfig, model: string, request: LlmRequest): string {
    return createHash('sha256')
      .update(
        JSON.stringify([
          provider.name,
          endpointOf(provider),
          model,
          request.system,
          request.prompt,
          request.maxOutputTokens ?? null,
          request.temperature ?? null,
        ]),
      )
      .digest('hex');
  }

  private async stream(
    provider: LlmProviderConfig,
    model: string,
    request: LlmRequest,
    signal: AbortSignal,
    onText: (text: string) => void,
  ): Promise<LlmCompletion> {
    const controller = new AbortController();
    const relay = () => controller.abort(signal.reason);
    if (signal.aborted) relay();
    signal.addEventListener('abort', relay, { once: true });
    const timeoutMs = this.config.llm.firstTokenTimeoutMs;
    const timer = setTimeout(
      () => controller.abort(new FirstTokenTimeoutError(timeoutMs)),
      timeoutMs,
    );
    let sent = false;
    let text = '';
    let finishReason = 'unknown';
    const usage: LlmCompletion['usage'] = {
      inputTokens: null,
      outputTokens: null,
      totalTokens: null,
    };
    try {
      const result = streamText({
        model: languageModel(provider, model),
        system: request.system,
        prompt: request.prompt,
        maxOutputTokens: request.maxOutputTokens,
        temperature: request.temperature,
        // Failover and the job's retry policy retry; the SDK must not retry behind them.
        maxRetries: 0,
        abortSignal: controller.signal,
        experimental_telemetry: { isEnabled: false },
        // Errors arrive as stream parts below; the default handler would print them.
        onError: () => undefined,
      });
      for await (const part of result.fullStream) {
        if (part.type === 'text-delta') {
          if (part.text === '') continue;
          if (!sent) clearTimeout(timer);
          sent = true;
          text += part.text;
          onText(part.text);
        } else if (part.type === 'error') {
          throw part.error;
        } else if (part.type === 'abort') {
          throw controller.signal.reason ?? new Error('aborted');
        } else if (part.type === 'finish') {
          finishReason = part.finishReason;
          usage.inputTokens = part.totalUsage.inputTokens ?? null;
          usage.outputTokens = part.totalUsage.outputTokens ?? null;
          usage.totalTokens = part.totalUsage.totalTokens ?? null;
        }
      }
      if (controller.signal.aborted) throw controller.signal.reason as Error;
      return { provider: provider.name, model, text, usage, finishReason };
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      const reason: unknown = controller.signal.aborted ? controller.signal.reason : error;
      throw new ProviderCallFailure(classifyFailure(reason, sent));
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', relay);
    }
  }
}
