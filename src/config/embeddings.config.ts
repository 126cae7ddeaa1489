import { ConfigError, raw, type Env } from './env-readers';

/** An OpenAI-compatible embeddings endpoint (docs/indexing.md); absent: search is lexical only. */
export interface EmbeddingsConfig {
  /** Base URL of the API, e.g. https://api.openai.com/v1 (its /embeddings is called). */
  baseUrl: string;
  model: string;
  /** Sent as a bearer token; never logged. */
  apiKey: string | undefined;
}

export function parseEmbeddingsConfig(env: Env): EmbeddingsConfig | null {
  const baseUrl = raw(env, 'EMBEDDINGS_BASE_URL');
  const model = raw(env, 'EMBEDDINGS_MODEL');
  const apiKey = raw(env, 'EMBEDDINGS_API_KEY');
  if (baseUrl === undefined) {
    if (model !== undefined) throw new ConfigError('EMBEDDINGS_MODEL', 'needs EMBEDDINGS_BASE_URL');
    if (apiKey !== undefined) {
      throw new ConfigError('EMBEDDINGS_API_KEY', 'needs EMBEDDINGS_BASE_URL');
    }
    return null;
  }
  let parsed: URL;
  try {
    parsed = new URL(baseUrl);
  } catch {
    throw new ConfigError('EMBEDDINGS_BASE_URL', 'must be a URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ConfigError(
      'EMBEDDINGS_BASE_URL',
      `must use http: or https: (got ${parsed.protocol})`,
    );
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw new ConfigError(
      'EMBEDDINGS_BASE_URL',
      'must not hold credentials (use EMBEDDINGS_API_KEY)',
    );
  }
  if (model === undefined)
    throw new ConfigError('EMBEDDINGS_MODEL', 'is required with EMBEDDINGS_BASE_URL');
  if (model.length > 200)
    throw new ConfigError('EMBEDDINGS_MODEL', 'must be at most 200 characters');
  return { baseUrl: baseUrl.replace(/\/+$/, ''), model, apiKey };
}
