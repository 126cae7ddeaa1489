import { ConfigError } from './env-readers';
import { parseWriteBatchConfig, WRITE_BATCH_DEFAULTS } from './write-batch.config';

describe('parseWriteBatchConfig', () => {
  it('has defaults', () => {
    expect(parseWriteBatchConfig({})).toEqual(WRITE_BATCH_DEFAULTS);
  });

  it('reads the three variables', () => {
    expect(
      parseWriteBatchConfig({
        WRITE_BATCH_WINDOW_MS: '0',
        WRITE_BATCH_MAX_SIZE: '50',
        WRITE_BATCH_MAX_IN_FLIGHT: '4',
      }),
    ).toEqual({ windowMs: 0, maxSize: 50, maxInFlight: 4 });
  });

  it.each([
    ['WRITE_BATCH_WINDOW_MS', '-1', 'must be between 0 and 1000 (got -1)'],
    ['WRITE_BATCH_WINDOW_MS', '2.5', 'must be an integer (got "2.5")'],
    ['WRITE_BATCH_MAX_SIZE', '0', 'must be between 1 and 5000 (got 0)'],
    ['WRITE_BATCH_MAX_SIZE', 'many', 'must be an integer (got "many")'],
    ['WRITE_BATCH_MAX_IN_FLIGHT', '65', 'must be between 1 and 64 (got 65)'],
  ])('refuses %s=%s', (name, value, reason) => {
    let caught: unknown;
    try {
      parseWriteBatchConfig({ [name]: value });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).variable).toBe(name);
    expect((caught as Error).message).toContain(reason);
  });
});
