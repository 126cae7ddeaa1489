import { createAnthropic } from '@ai-sdk/anthropic';
import { createGoogleGenerativeAI } from '@ai-sdk/google';
import { createOpenAI } from '@ai-sdk/openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { createXai } from '@ai-sdk/xai';
import type { LanguageModel } from 'ai';
import type { LlmProviderConfig } from '../config/llm.config';

/**
 * The AI SDK model of one provider. Keys are passed explicitly so the SDK never falls back to
 * reading process.env itself; OpenAI speaks the Responses API, xAI and openai-compatible Chat
 * Completions.
 */
export function languageModel(provider: LlmProviderConfig, modelId: string): LanguageModel {
  const { apiKey, baseURL } = provider;
  switch (provider.name) {
    case 'anthropic':
      return createAnthropic({ apiKey, baseURL })(modelId);
    case 'openai':
      return createOpenAI({ apiKey, baseURL })(modelId);
    case 'google':
      return createGoogleGenerativeAI({ apiKey, baseURL })(modelId);
    case 'xai':
      return createXai({ apiKey, baseURL })(modelId);
    case 'openai-compatible':
      return createOpenAICompatible({
        name: 'openai-compatible',
        apiKey,
        baseURL: baseURL as string,
        includeUsage: true,
      })(modelId);
  }
}

/** Where a provider's requests go, for messages: never with a key in it. */
export function endpointOf(provider: LlmProviderConfig): string {
  const defaults: Record<LlmProviderConfig['name'], string> = {
    anthropic: 'https://api.anthropic.com/v1',
    openai: 'https://api.openai.com/v1',
    google: 'https://generativelanguage.googleapis.com/v1beta',
    xai: 'https://api.x.ai/v1',
    'openai-compatible': '',
  };
  return provider.baseURL ?? defaults[provider.name];
}
