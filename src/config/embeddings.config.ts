import { ConfigError, raw, url, type Env } from './env-readers';

/** An OpenAI-compatible embeddings endpoint (docs/indexing.md); absent: search is lexical only. */
export interface EmbeddingsConfig {
  /** Base URL of the API, e.g. https://api.openai.com/v1 (its /embeddings is called). */
  baseUrl: string;
  model: string;
  /** Sent as a bearer token; never logged. */
  apiKey: string | undefined;
}

export function parseEmbeddingsConfig(env: Env): EmbeddingsConfig | null {
  const baseUrl = url(env, 'EMBEDDINGS_BASE_URL', ['http:', 'https:'], { noCredentials: true });
  const model = raw(env, 'EMBEDDINGS_MODEL');
  const apiKey = raw(env, 'EMBEDDINGS_API_KEY');
  if (baseUrl === undefined) {
    if (model !== undefined) throw new ConfigError('EMBEDDINGS_MODEL', 'needs EMBEDDINGS_BASE_URL');
    if (apiKey !== undefined) {
      throw new ConfigError('EMBEDDINGS_API_KEY', 'needs EMBEDDINGS_BASE_URL');
    }
    return null;
  }
  if (model === undefined)
    throw new ConfigError('EMBEDDINGS_MODEL', 'is required with EMBEDDINGS_BASE_URL');
  if (model.length > 200)
    throw new ConfigError('EMBEDDINGS_MODEL', 'must be at most 200 characters');
  return { baseUrl: baseUrl.replace(/\/+$/, ''), model, apiKey };
}
