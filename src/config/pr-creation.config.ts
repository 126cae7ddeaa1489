import { text, url, type Env } from './env-readers';

export interface PrCreationConfig {
  /** Server-wide GitHub token; unset: pr-creation jobs fail saying so. Never logged. */
  githubToken: string | undefined;
  githubApiUrl: string;
  authorName: string;
  authorEmail: string;
}

/** What a GitHub token may be, server-wide or a project's: it goes into an HTTP header. */
export const GITHUB_TOKEN_PATTERN = /^[\x21-\x7e]{1,1000}$/;
export const GITHUB_TOKEN_RULE = '1-1000 printable ASCII characters without spaces';

/** GITHUB_TOKEN, GITHUB_API_URL, GIT_AUTHOR_NAME, GIT_AUTHOR_EMAIL (docs/pr-creation.md). */
export function parsePrCreationConfig(env: Env, allowLocalRepos: boolean): PrCreationConfig {
  const githubToken = text(env, 'GITHUB_TOKEN', GITHUB_TOKEN_PATTERN, GITHUB_TOKEN_RULE, true);
  // The token travels to it: plain http only for loopback tests, as for repositories.
  const githubApiUrl = url(
    env,
    'GITHUB_API_URL',
    allowLocalRepos ? ['https:', 'http:'] : ['https:'],
    {
      fallback: 'https://api.github.com',
      noCredentials: true,
      protocolHint: 'http needs ALLOW_LOCAL_REPOS=true',
    },
  );
  const authorName =
    text(
      env,
      'GIT_AUTHOR_NAME',
      /^[^<>\n\r\0]{1,200}$/,
      '1-200 characters without <, > or newlines',
    ) ?? 'Conveyor';
  const authorEmail =
    text(env, 'GIT_AUTHOR_EMAIL', /^[^<>\s@]+@[^<>\s@]+$/, 'an e-mail address') ??
    'conveyor@localhost';
  return { githubToken, githubApiUrl: githubApiUrl.replace(/\/+$/, ''), authorName, authorEmail };
}
