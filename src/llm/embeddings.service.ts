import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { Inject, Injectable } from '@nestjs/common';
import { embedMany, type EmbeddingModel } from 'ai';
import { APP_CONFIG, type AppConfig } from '../config/app-config';

/** Per request; OpenAI accepts up to 2048 inputs, smaller batches keep a failure cheap. */
export const EMBEDDING_BATCH = 64;
/** Characters of a chunk sent for embedding (chunks are bounded well below most model limits). */
const MAX_INPUT_CHARS = 8000;

export class EmbeddingsUnavailableError extends Error {
  override readonly name = 'EmbeddingsUnavailableError';
}

/** Embeddings over an OpenAI-compatible /embeddings endpoint, when one is configured. */
@Injectable()
export class EmbeddingsService {
  private readonly model: EmbeddingModel | null;
  /** The configured model's name (the key embeddings are stored under), or null. */
  readonly modelName: string | null;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    const settings = config.embeddings;
    this.model = settings
      ? createOpenAICompatible({
          name: 'embeddings',
          baseURL: settings.baseUrl,
          ...(settings.apiKey !== undefined && { apiKey: settings.apiKey }),
        }).embeddingModel(settings.model)
      : null;
    this.modelName = settings?.model ?? null;
  }

  get enabled(): boolean {
    return this.model !== null;
  }

  /** One vector per value, in order. Errors name the endpoint's answer, never the key. */
  async embed(values: string[], signal?: AbortSignal): Promise<Float32Array[]> {
    if (!this.model) throw new EmbeddingsUnavailableError('no embeddings provider is configured');
    const vectors: Float32Array[] = [];
    for (let i = 0; i < values.length; i += EMBEDDING_BATCH) {
      const batch = values.slice(i, i + EMBEDDING_BATCH).map((v) => v.slice(0, MAX_INPUT_CHARS));
      try {
        const { embeddings } = await embedMany({
          model: this.model,
          values: batch,
          maxRetries: 2,
          maxParallelCalls: 1,
          ...(signal && { abortSignal: signal }),
        });
        if (embeddings.length !== batch.length) {
          throw new Error(`expected ${batch.length} embeddings, got ${embeddings.length}`);
        }
        vectors.push(...embeddings.map((embedding) => Float32Array.from(embedding)));
      } catch (error) {
        if (signal?.aborted) throw error;
        throw new EmbeddingsUnavailableError(
          `embeddings request failed: ${(error as Error).message}`.slice(0, 500),
          { cause: error },
        );
      }
    }
    return vectors;
  }
}
