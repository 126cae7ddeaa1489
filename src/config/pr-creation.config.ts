import { ConfigError, raw, type Env } from './env-readers';

export interface PrCreationConfig {
  /** Server-wide GitHub token; unset: pr-creation jobs fail saying so. Never logged. */
  githubToken: string | undefined;
  githubApiUrl: string;
  authorName: string;
  authorEmail: string;
}

/** GITHUB_TOKEN, GITHUB_API_URL, GIT_AUTHOR_NAME, GIT_AUTHOR_EMAIL (docs/pr-creation.md). */
export function parsePrCreationConfig(env: Env, allowLocalRepos: boolean): PrCreationConfig {
  const githubToken = raw(env, 'GITHUB_TOKEN');
  if (githubToken !== undefined && !/^[\x21-\x7e]{1,1000}$/.test(githubToken)) {
    throw new ConfigError('GITHUB_TOKEN', 'must be printable ASCII without spaces');
  }
  const githubApiUrl = raw(env, 'GITHUB_API_URL') ?? 'https://api.github.com';
  let parsed: URL;
  try {
    parsed = new URL(githubApiUrl);
  } catch {
    throw new ConfigError('GITHUB_API_URL', 'must be a URL');
  }
  // The token travels to it: plain http only for loopback tests, as for repositories.
  const protocols = allowLocalRepos ? ['https:', 'http:'] : ['https:'];
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(
      'GITHUB_API_URL',
      `must use ${protocols.join(' or ')} (got ${parsed.protocol}; http needs ALLOW_LOCAL_REPOS=true)`,
    );
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw new ConfigError('GITHUB_API_URL', 'must not contain credentials');
  }
  const authorName = raw(env, 'GIT_AUTHOR_NAME') ?? 'Conveyor';
  if (!/^[^<>\n\r\0]{1,200}$/.test(authorName)) {
    throw new ConfigError('GIT_AUTHOR_NAME', 'must be 1-200 characters without <, > or newlines');
  }
  const authorEmail = raw(env, 'GIT_AUTHOR_EMAIL') ?? 'conveyor@localhost';
  if (!/^[^<>\s@]+@[^<>\s@]+$/.test(authorEmail)) {
    throw new ConfigError('GIT_AUTHOR_EMAIL', `must be an e-mail address (got "${authorEmail}")`);
  }
  return { githubToken, githubApiUrl: githubApiUrl.replace(/\/+$/, ''), authorName, authorEmail };
}
