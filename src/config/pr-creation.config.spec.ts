import { ConfigError, loadConfig } from './app-config';

const base = { NODE_ENV: 'production', JWT_SECRET: 'a-long-enough-secret-value' };

function errorOf(env: Record<string, string>): string {
  try {
    loadConfig({ ...base, ...env }, '/srv');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('pr-creation configuration', () => {
  it('defaults to api.github.com, no token and a Conveyor author', () => {
    expect(loadConfig(base, '/srv').prCreation).toEqual({
      githubToken: undefined,
      githubApiUrl: 'https://api.github.com',
      authorName: 'Conveyor',
      authorEmail: 'conveyor@localhost',
    });
  });

  it('reads GITHUB_TOKEN, a GitHub Enterprise URL and the author', () => {
    const config = loadConfig(
      {
        ...base,
        GITHUB_TOKEN: 'ghp_x',
        GITHUB_API_URL: 'https://ghe.example.com/api/v3/',
        GIT_AUTHOR_NAME: 'Release Bot',
        GIT_AUTHOR_EMAIL: 'bot@example.com',
      },
      '/srv',
    );
    expect(config.prCreation).toEqual({
      githubToken: 'ghp_x',
      githubApiUrl: 'https://ghe.example.com/api/v3',
      authorName: 'Release Bot',
      authorEmail: 'bot@example.com',
    });
  });

  it('accepts a plain http API URL only with ALLOW_LOCAL_REPOS=true', () => {
    expect(errorOf({ GITHUB_API_URL: 'http://127.0.0.1:9000' })).toBe(
      'Invalid configuration: GITHUB_API_URL must use https: (got http:; http needs ALLOW_LOCAL_REPOS=true)',
    );
    const local = { ...base, GITHUB_API_URL: 'http://127.0.0.1:9000', ALLOW_LOCAL_REPOS: 'true' };
    expect(loadConfig(local, '/srv').prCreation.githubApiUrl).toBe('http://127.0.0.1:9000');
  });

  it.each([
    [{ GITHUB_API_URL: 'not a url' }, 'GITHUB_API_URL must be a URL'],
    [
      { GITHUB_API_URL: 'https://u:p@ghe.example.com/api/v3' },
      'GITHUB_API_URL must not carry credentials',
    ],
    [
      { GITHUB_TOKEN: 'has a space' },
      'GITHUB_TOKEN must be 1-1000 printable ASCII characters without spaces',
    ],
    [{ GIT_AUTHOR_NAME: 'Evil <x@y>' }, 'GIT_AUTHOR_NAME must be 1-200 characters'],
    [{ GIT_AUTHOR_EMAIL: 'nobody' }, 'GIT_AUTHOR_EMAIL must be an e-mail address (got "nobody")'],
  ])('refuses %j', (env, message) => {
    expect(errorOf(env)).toContain(message);
  });

  it('never puts the token in the error about it', () => {
    expect(errorOf({ GITHUB_TOKEN: 'secret value' })).not.toContain('secret');
  });
});
