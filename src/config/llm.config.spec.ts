import { ConfigError, loadConfig } from './app-config';
import { parseLlmConfig } from './llm.config';

describe('parseLlmConfig', () => {
  it('with nothing set keeps only the local OpenAI-compatible server (Ollama) and the defaults', () => {
    expect(parseLlmConfig({})).toEqual({
      providers: [
        {
          name: 'openai-compatible',
          apiKey: undefined,
          baseURL: 'http://127.0.0.1:11434/v1',
          model: 'qwen2.5-coder',
        },
      ],
      cacheTtlSec: 3600,
      circuitFailures: 3,
      circuitCooldownMs: 60_000,
      firstTokenTimeoutMs: 120_000,
    });
  });

  it('configures a provider by its key, in LLM_PROVIDERS order, with its base URL and model', () => {
    const config = parseLlmConfig({
      LLM_PROVIDERS: 'xai, anthropic ,google',
      ANTHROPIC_API_KEY: 'ak',
      ANTHROPIC_BASE_URL: 'http://127.0.0.1:9/v1/',
      XAI_API_KEY: 'xk',
      XAI_MODEL: 'grok-code-fast-1',
      OPENAI_API_KEY: 'ok',
      LLM_CACHE_TTL_SEC: '0',
    });
    expect(config.providers).toEqual([
      { name: 'xai', apiKey: 'xk', baseURL: undefined, model: 'grok-code-fast-1' },
      {
        name: 'anthropic',
        apiKey: 'ak',
        baseURL: 'http://127.0.0.1:9/v1',
        model: 'claude-sonnet-4-5',
      },
    ]);
    expect(config.cacheTtlSec).toBe(0);
  });

  it('leaves openai-compatible out when LLM_PROVIDERS does', () => {
    expect(parseLlmConfig({ LLM_PROVIDERS: 'openai' }).providers).toEqual([]);
  });

  it.each([
    [
      { LLM_PROVIDERS: 'openai,mistral' },
      'LLM_PROVIDERS has "mistral", which is not a provider (anthropic, openai,',
    ],
    [{ LLM_PROVIDERS: 'openai,openai' }, 'LLM_PROVIDERS names "openai" twice'],
    [{ OPENAI_BASE_URL: 'not a url' }, 'OPENAI_BASE_URL must be a URL'],
    [{ ANTHROPIC_BASE_URL: 'ftp://x' }, 'ANTHROPIC_BASE_URL must use http: or https:'],
    [{ GOOGLE_GENERATIVE_AI_BASE_URL: 'https://u:p@x/v1' }, 'must not carry credentials'],
    [
      { OPENAI_COMPATIBLE_BASE_URL: 'http://x/v1?key=1' },
      'must not carry credentials or a query string',
    ],
    [{ XAI_MODEL: 'grok 4' }, 'XAI_MODEL must be a model id without spaces'],
    [{ LLM_CACHE_TTL_SEC: '-1' }, 'LLM_CACHE_TTL_SEC must be between 0'],
    [{ LLM_CIRCUIT_FAILURES: '0' }, 'LLM_CIRCUIT_FAILURES must be between 1 and 1000'],
    [{ LLM_CIRCUIT_COOLDOWN_MS: 'soon' }, 'LLM_CIRCUIT_COOLDOWN_MS must be an integer'],
    [{ LLM_FIRST_TOKEN_TIMEOUT_MS: '5' }, 'LLM_FIRST_TOKEN_TIMEOUT_MS must be between 100'],
  ])('refuses %j', (env, message) => {
    expect(() => parseLlmConfig(env)).toThrow(ConfigError);
    expect(() => parseLlmConfig(env)).toThrow(message);
  });

  it('never puts a key in its error messages', () => {
    expect(() =>
      parseLlmConfig({ OPENAI_API_KEY: 'sk-secret', OPENAI_BASE_URL: 'https://sk-secret@x' }),
    ).toThrow(
      /^Invalid configuration: OPENAI_BASE_URL must not carry credentials or a query string$/,
    );
  });

  it('is part of the start-up configuration', () => {
    const base = { NODE_ENV: 'test', JWT_SECRET: 'unit-test-secret-0123456789' };
    expect(loadConfig({ ...base, XAI_API_KEY: 'k' }).llm.providers.map((p) => p.name)).toEqual([
      'xai',
      'openai-compatible',
    ]);
    expect(() => loadConfig({ ...base, LLM_PROVIDERS: 'nope' })).toThrow(
      'Invalid configuration: LLM_PROVIDERS has "nope", which is not a provider',
    );
  });
});
