import { isAbsolute } from 'node:path';

/** Why a repository URL is refused, or null when it may be cloned. */
export function repoUrlProblem(url: string, allowLocal: boolean): string | null {
  if (url.startsWith('-')) return 'repoUrl must not start with "-"';
  if (/[\s\0]/.test(url)) return 'repoUrl must not contain whitespace';
  if (/^https:\/\/[^/]+\/.+/.test(url)) return null;
  if (/^ssh:\/\/[^/]+\/.+/.test(url)) return null;
  if (/^[\w.-]+@[\w.-]+:[^/].*/.test(url)) return null;
  const local = url.startsWith('file://') || isAbsolute(url);
  if (local) {
    return allowLocal ? null : 'repoUrl: local paths and file:// need ALLOW_LOCAL_REPOS=true';
  }
  return 'repoUrl must be an https or ssh git URL';
}

/** git check-ref-format, the parts that matter for a branch name given by a user. */
export const BRANCH_NAME =
  /^(?!-)(?!.*\.\.)(?!.*\/\/)(?!.*@\{)(?!.*\.lock$)(?!\/)(?!.*\/$)[\w./-]{1,200}$/;
