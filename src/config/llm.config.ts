import { ConfigError, int, list, raw, url, type Env } from './env-readers';

export const LLM_PROVIDER_NAMES = [
  'anthropic',
  'openai',
  'google',
  'xai',
  'openai-compatible',
] as const;
export type LlmProviderName = (typeof LLM_PROVIDER_NAMES)[number];

/** One configured provider; `apiKey` never leaves the process (see llm-redaction.ts). */
export interface LlmProviderConfig {
  name: LlmProviderName;
  apiKey: string | undefined;
  baseURL: string | undefined;
  model: string;
}

export interface LlmConfig {
  /** Configured providers in failover order (LLM_PROVIDERS minus the unconfigured ones). */
  providers: LlmProviderConfig[];
  cacheTtlSec: number;
  circuitFailures: number;
  circuitCooldownMs: number;
  firstTokenTimeoutMs: number;
}

/** The variable prefix of each provider (docs/code-generation.md#providers). */
export const LLM_ENV_PREFIX: Record<LlmProviderName, string> = {
  anthropic: 'ANTHROPIC',
  openai: 'OPENAI',
  google: 'GOOGLE_GENERATIVE_AI',
  xai: 'XAI',
  'openai-compatible': 'OPENAI_COMPATIBLE',
};

export const LLM_DEFAULT_MODELS: Record<LlmProviderName, string> = {
  anthropic: 'claude-sonnet-4-5',
  openai: 'gpt-5',
  google: 'gemini-2.5-pro',
  xai: 'grok-4',
  'openai-compatible': 'qwen2.5-coder',
};

/** What to set to configure a provider, for messages. */
export function howToConfigure(name: LlmProviderName): string {
  return name === 'openai-compatible'
    ? 'set OPENAI_COMPATIBLE_BASE_URL and list it in LLM_PROVIDERS'
    : `set ${LLM_ENV_PREFIX[name]}_API_KEY and list it in LLM_PROVIDERS`;
}

/** Ollama's OpenAI-compatible endpoint: with nothing configured, a local server is tried. */
export const OPENAI_COMPATIBLE_DEFAULT_BASE_URL = 'http://127.0.0.1:11434/v1';

function baseUrl(env: Env, name: string): string | undefined {
  const value = url(env, name, ['http:', 'https:'], { noCredentials: true, noQuery: true });
  return value?.replace(/\/+$/, '');
}

function providerOrder(env: Env): LlmProviderName[] {
  return list(env, 'LLM_PROVIDERS', LLM_PROVIDER_NAMES, {
    entry: (name) => (LLM_PROVIDER_NAMES as readonly string[]).includes(name),
    what: `a provider (${LLM_PROVIDER_NAMES.join(', ')})`,
    unique: true,
  }) as LlmProviderName[];
}

function providerConfig(env: Env, name: LlmProviderName): LlmProviderConfig | null {
  const prefix = LLM_ENV_PREFIX[name];
  const apiKey = raw(env, `${prefix}_API_KEY`);
  const url = baseUrl(env, `${prefix}_BASE_URL`);
  const model = raw(env, `${prefix}_MODEL`) ?? LLM_DEFAULT_MODELS[name];
  if (model.length > 200 || /\s/.test(model)) {
    throw new ConfigError(`${prefix}_MODEL`, 'must be a model id without spaces (≤ 200 chars)');
  }
  if (name === 'openai-compatible') {
    return { name, apiKey, baseURL: url ?? OPENAI_COMPATIBLE_DEFAULT_BASE_URL, model };
  }
  if (apiKey === undefined) return null;
  return { name, apiKey, baseURL: url, model };
}

/** LLM providers and the code-generation knobs (docs/code-generation.md), validated at start-up. */
export function parseLlmConfig(env: Env): LlmConfig {
  const order = providerOrder(env);
  // Every provider's variables are checked, listed in LLM_PROVIDERS or not: a typo fails early.
  const all = new Map(LLM_PROVIDER_NAMES.map((name) => [name, providerConfig(env, name)]));
  return {
    providers: order
      .map((name) => all.get(name) ?? null)
      .filter((provider): provider is LlmProviderConfig => provider !== null),
    cacheTtlSec: int(env, 'LLM_CACHE_TTL_SEC', 3600, 0, 30 * 86_400),
    circuitFailures: int(env, 'LLM_CIRCUIT_FAILURES', 3, 1, 1000),
    circuitCooldownMs: int(env, 'LLM_CIRCUIT_COOLDOWN_MS', 60_000, 100, 86_400_000),
    firstTokenTimeoutMs: int(env, 'LLM_FIRST_TOKEN_TIMEOUT_MS', 120_000, 100, 3_600_000),
  };
}
