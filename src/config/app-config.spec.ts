import { ConfigError, DEV_JWT_SECRET, loadConfig } from './app-config';

const base = { NODE_ENV: 'production', JWT_SECRET: 'a-long-enough-secret-value' };

function errorOf(env: Record<string, string>): string {
  try {
    loadConfig(env, '/srv');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig(base, '/srv');
    expect(config).toMatchObject({
      role: 'all',
      port: 3000,
      databaseUrl: undefined,
      dataDir: '/srv/.data',
      redisUrl: 'redis://127.0.0.1:6379',
      prefix: 'conveyor',
      submitLimitPerMinute: 100,
      userTokenQuotaPerDay: null,
      jobs: {
        attempts: 3,
        backoffMs: 1000,
        concurrency: 5,
        rateLimitMax: 100,
        rateLimitDurationMs: 60_000,
        timeoutMs: 300_000,
        retainDoneSec: 86_400,
        retainFailedSec: 172_800,
      },
    });
  });

  it('uses a development secret only in development', () => {
    const config = loadConfig({}, '/srv');
    expect(config.env).toBe('development');
    expect(config.jwtSecret).toBe(DEV_JWT_SECRET);
    expect(config.jwtSecretIsDevDefault).toBe(true);
    expect(errorOf({ NODE_ENV: 'production' })).toBe(
      'Invalid configuration: JWT_SECRET is required when NODE_ENV=production',
    );
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT must be an integer (got "abc")'],
    [{ PORT: '70000' }, 'PORT must be between 0 and 65535 (got 70000)'],
    [{ APP_ROLE: 'boss' }, 'APP_ROLE must be one of api, worker, all (got "boss")'],
    [{ NODE_ENV: 'staging' }, 'NODE_ENV must be one of development, production, test'],
    [{ REDIS_URL: 'http://x' }, 'REDIS_URL must use redis: or rediss: (got http:)'],
    [{ REDIS_URL: 'not a url' }, 'REDIS_URL must be a URL'],
    [{ DATABASE_URL: 'mysql://x/y' }, 'DATABASE_URL must use postgres: or postgresql:'],
    [{ JWT_SECRET: 'short' }, 'JWT_SECRET must be at least 16 characters'],
    [{ JOB_ATTEMPTS: '0' }, 'JOB_ATTEMPTS must be between 1 and 100 (got 0)'],
    [{ JOB_CONCURRENCY: '2.5' }, 'JOB_CONCURRENCY must be an integer (got "2.5")'],
    [{ QUEUE_PREFIX: 'a b' }, 'QUEUE_PREFIX must be 1-64 letters'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL must be one of'],
    [{ SUBMIT_LIMIT_PER_MINUTE: '-1' }, 'SUBMIT_LIMIT_PER_MINUTE must be between 1 and'],
    [{ USER_TOKEN_QUOTA_PER_DAY: '0' }, 'USER_TOKEN_QUOTA_PER_DAY must be between 1 and'],
    [
      { USER_TOKEN_QUOTA_PER_DAY: '1e6' },
      'USER_TOKEN_QUOTA_PER_DAY must be an integer (got "1e6")',
    ],
    [{ ALLOW_LOCAL_REPOS: 'yes' }, 'ALLOW_LOCAL_REPOS must be true or false (got "yes")'],
    [{ TEST_SANDBOX: 'docker' }, 'TEST_SANDBOX must be one of auto, bwrap, none (got "docker")'],
    [
      { TEST_COMMAND_ALLOWLIST: 'npm,rm -rf' },
      'TEST_COMMAND_ALLOWLIST has "rm -rf", which is not an executable name',
    ],
  ])('rejects %j with a line naming the variable', (env, message) => {
    expect(errorOf({ ...base, ...env })).toContain(`Invalid configuration: ${message}`);
  });

  it('reads USER_TOKEN_QUOTA_PER_DAY as a number of tokens', () => {
    expect(loadConfig({ ...base, USER_TOKEN_QUOTA_PER_DAY: '250000' }).userTokenQuotaPerDay).toBe(
      250_000,
    );
  });

  it('does not ask a worker for the JWT secret it never uses', () => {
    expect(loadConfig({ NODE_ENV: 'production', APP_ROLE: 'worker' }, '/srv').role).toBe('worker');
    expect(errorOf({ NODE_ENV: 'production', APP_ROLE: 'api' })).toContain('JWT_SECRET');
  });

  it('never echoes a secret in its errors', () => {
    expect(errorOf({ ...base, JWT_SECRET: 'tiny' })).not.toContain('tiny');
  });
});
