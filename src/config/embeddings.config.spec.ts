import { parseEmbeddingsConfig } from './embeddings.config';

describe('parseEmbeddingsConfig', () => {
  it('is null without EMBEDDINGS_BASE_URL (lexical search only)', () => {
    expect(parseEmbeddingsConfig({})).toBeNull();
  });

  it('reads the endpoint, model and key', () => {
    expect(
      parseEmbeddingsConfig({
        EMBEDDINGS_BASE_URL: 'https://api.example.com/v1/',
        EMBEDDINGS_MODEL: 'text-embedding-3-small',
        EMBEDDINGS_API_KEY: 'sk-1',
      }),
    ).toEqual({
      baseUrl: 'https://api.example.com/v1',
      model: 'text-embedding-3-small',
      apiKey: 'sk-1',
    });
    expect(
      parseEmbeddingsConfig({
        EMBEDDINGS_BASE_URL: 'http://127.0.0.1:8080/v1',
        EMBEDDINGS_MODEL: 'm',
      }),
    ).toEqual({ baseUrl: 'http://127.0.0.1:8080/v1', model: 'm', apiKey: undefined });
  });

  it.each([
    [
      { EMBEDDINGS_BASE_URL: 'not a url', EMBEDDINGS_MODEL: 'm' },
      /EMBEDDINGS_BASE_URL must be a URL/,
    ],
    [
      { EMBEDDINGS_BASE_URL: 'ftp://x/v1', EMBEDDINGS_MODEL: 'm' },
      /EMBEDDINGS_BASE_URL must use http/,
    ],
    [
      { EMBEDDINGS_BASE_URL: 'https://u:p@x/v1', EMBEDDINGS_MODEL: 'm' },
      /EMBEDDINGS_BASE_URL must not carry credentials/,
    ],
    [{ EMBEDDINGS_BASE_URL: 'https://x/v1' }, /EMBEDDINGS_MODEL is required/],
    [{ EMBEDDINGS_MODEL: 'm' }, /EMBEDDINGS_MODEL needs EMBEDDINGS_BASE_URL/],
    [{ EMBEDDINGS_API_KEY: 'k' }, /EMBEDDINGS_API_KEY needs EMBEDDINGS_BASE_URL/],
  ])('refuses %j', (env, message) => {
    expect(() => parseEmbeddingsConfig(env)).toThrow(message);
  });

  it('never puts the key in an error', () => {
    expect(() =>
      parseEmbeddingsConfig({
        EMBEDDINGS_BASE_URL: 'ftp://x',
        EMBEDDINGS_MODEL: 'm',
        EMBEDDINGS_API_KEY: 'sk-secret',
      }),
    ).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('sk-secret') }) as Error,
    );
  });
});
