import { storableUsage } from './job.types';

describe('storableUsage', () => {
  it('keeps whole, non-negative counts as they are', () => {
    const usage = { provider: 'openai', model: 'gpt', inputTokens: 40, outputTokens: 30 };
    expect(storableUsage(usage)).toEqual(usage);
  });

  it('rounds, clamps and zeroes what the SQL cast would refuse', () => {
    expect(
      storableUsage({ provider: 'p', model: 'm', inputTokens: 12.5, outputTokens: -3 }),
    ).toEqual({ provider: 'p', model: 'm', inputTokens: 13, outputTokens: 0 });
    expect(
      storableUsage({ provider: 'p', model: 'm', inputTokens: NaN, outputTokens: Infinity }),
    ).toEqual({ provider: 'p', model: 'm', inputTokens: 0, outputTokens: 0 });
  });

  it('drops a count without a provider or a model, and none at all', () => {
    expect(storableUsage({ provider: '', model: 'm', inputTokens: 1, outputTokens: 1 })).toBeNull();
    expect(storableUsage({ provider: 'p', model: '', inputTokens: 1, outputTokens: 1 })).toBeNull();
    expect(storableUsage(null)).toBeNull();
    expect(storableUsage(undefined)).toBeNull();
  });
});
