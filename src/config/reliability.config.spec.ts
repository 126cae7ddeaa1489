import { ConfigError } from './env-readers';
import { parseReliabilityConfig } from './reliability.config';

describe('parseReliabilityConfig', () => {
  it('defaults: every minute, rows unchanged for 2 minutes', () => {
    expect(parseReliabilityConfig({})).toEqual({
      reconcileIntervalMs: 60_000,
      reconcileAfterMs: 120_000,
    });
  });

  it('reads both; 0 turns the reconciler off', () => {
    expect(
      parseReliabilityConfig({ RECONCILE_INTERVAL_MS: '0', RECONCILE_AFTER_MS: '5000' }),
    ).toEqual({ reconcileIntervalMs: 0, reconcileAfterMs: 5000 });
  });

  it.each([
    ['RECONCILE_INTERVAL_MS', 'soon', /RECONCILE_INTERVAL_MS.*must be an integer/],
    [
      'RECONCILE_INTERVAL_MS',
      '-1',
      /RECONCILE_INTERVAL_MS must be between 0 and 86400000 \(got -1\)/,
    ],
    ['RECONCILE_AFTER_MS', '999', /RECONCILE_AFTER_MS.*between 1000 and/],
    ['RECONCILE_AFTER_MS', '1.5', /RECONCILE_AFTER_MS.*must be an integer/],
  ])('%s=%s is refused with a message naming it', (name, value, message) => {
    const parse = () => parseReliabilityConfig({ [name]: value });
    expect(parse).toThrow(ConfigError);
    expect(parse).toThrow(message);
  });
});
