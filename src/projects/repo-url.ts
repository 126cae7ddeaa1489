import { isAbsolute } from 'node:path';

/** Why a repository URL is refused, or null when it may be cloned. */
export function repoUrlProblem(url: string, allowLocal: boolean): string | null {
  if (url.startsWith('-')) return 'repoUrl must not start with "-"';
  if (/[\s\0]/.test(url)) return 'repoUrl must not contain whitespace';
  if (/^https:\/\/[^/]+\/.+/.test(url)) return null;
  if (/^ssh:\/\/[^/]+\/.+/.test(url)) return null;
  if (/^[\w.-]+@[\w.-]+:[^/].*/.test(url)) return null;
  if (/^http:\/\/[^/]+\/.+/.test(url)) {
    return allowLocal ? null : 'repoUrl: plain http:// needs ALLOW_LOCAL_REPOS=true';
  }
  const local = url.startsWith('file://') || isAbsolute(url);
  if (local) {
    return allowLocal ? null : 'repoUrl: local paths and file:// need ALLOW_LOCAL_REPOS=true';
  }
  return 'repoUrl must be an https or ssh git URL';
}

/** git check-ref-format, the parts that matter for a branch name given by a user. */
export const BRANCH_NAME =
  /^(?!-)(?!.*\.\.)(?!.*\/\/)(?!.*@\{)(?!.*\.lock$)(?!\/)(?!.*\/$)[\w./-]{1,200}$/;

/**
 * The `<owner>/<repo>` a hosted remote names: the last two path segments of an https, http or
 * ssh URL, or of scp-like syntax, with or without `.git`. Null for local paths.
 */
export function ownerAndRepo(url: string): { owner: string; repo: string } | null {
  let path: string;
  const scp = /^[\w.-]+@[\w.-]+:([^/].*)$/.exec(url);
  if (scp) path = scp[1];
  else if (/^(https?|ssh):\/\//.test(url)) {
    try {
      path = new URL(url).pathname;
    } catch {
      return null;
    }
  } else return null;
  const parts = path
    .replace(/\/+$/, '')
    .replace(/\.git$/, '')
    .split('/')
    .filter(Boolean);
  if (parts.length < 2) return null;
  const [owner, repo] = parts.slice(-2);
  const name = /^[\w.-]+$/;
  if (!name.test(owner) || !name.test(repo) || repo === '.' || repo === '..') return null;
  return { owner, repo };
}
