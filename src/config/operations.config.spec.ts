import { ConfigError } from './env-readers';
import { logsArePretty, parseOperationsConfig } from './operations.config';

describe('operations configuration', () => {
  it('defaults: no metrics token, automatic log format', () => {
    expect(parseOperationsConfig({})).toEqual({ metricsToken: undefined, logFormat: 'auto' });
  });

  it.each([
    ['METRICS_TOKEN', 'short', /METRICS_TOKEN must be 16-512/],
    ['METRICS_TOKEN', 'has a space in the middle', /METRICS_TOKEN/],
    ['LOG_FORMAT', 'yaml', /LOG_FORMAT must be one of auto, json, pretty \(got "yaml"\)/],
  ])('refuses %s=%j', (name, value, message) => {
    expect(() => parseOperationsConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => parseOperationsConfig({ [name]: value })).toThrow(message);
  });

  it('pretty logs: asked for, or development on a terminal; JSON otherwise', () => {
    const config = (env: string, logFormat: 'auto' | 'json' | 'pretty') => ({
      env,
      operations: { metricsToken: undefined, logFormat },
    });
    expect(logsArePretty(config('development', 'auto'), true)).toBe(true);
    expect(logsArePretty(config('development', 'auto'), false)).toBe(false);
    expect(logsArePretty(config('production', 'auto'), true)).toBe(false);
    expect(logsArePretty(config('production', 'pretty'), false)).toBe(true);
    expect(logsArePretty(config('development', 'json'), true)).toBe(false);
  });
});
