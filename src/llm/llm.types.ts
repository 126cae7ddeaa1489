import type { LlmProviderName } from '../config/llm.config';

export interface LlmUsage {
  inputTokens: number | null;
  outputTokens: number | null;
  totalTokens: number | null;
}

/** One provider's whole answer: what the cache stores. */
export interface LlmCompletion {
  provider: LlmProviderName;
  model: string;
  text: string;
  usage: LlmUsage;
  finishReason: string;
}

export interface LlmFailover {
  provider: LlmProviderName;
  error: string;
}

export interface LlmRequest {
  /** Only this provider; otherwise the configured failover order. */
  provider?: LlmProviderName;
  /** With `provider` only: the model of that provider; otherwise each provider's default. */
  model?: string;
  system: string;
  prompt: string;
  maxOutputTokens?: number;
  temperature?: number;
  cache: boolean;
}

export interface LlmOutcome extends LlmCompletion {
  cached: boolean;
  failover: LlmFailover[];
  timeToFirstTokenMs: number | null;
}
