import { posix } from 'node:path';

export const MAX_PATH_CHARS = 1000;

/**
 * The path rules (docs/code-generation.md) for a file the model writes or the client names:
 * relative, inside the workspace, never under `.git/`. Returns the normalised path, or why it is
 * refused.
 */
export function checkWorkspacePath(raw: string): { path: string } | { error: string } {
  if (raw === '') return { error: 'is empty' };
  if (raw.length > MAX_PATH_CHARS) return { error: `is longer than ${MAX_PATH_CHARS} characters` };
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  if (/[\0-\x1f]/.test(raw)) return { error: 'contains a control character' };
  if (raw.includes('\\')) return { error: 'must use / as separator' };
  if (raw.startsWith('/') || /^[A-Za-z]:/.test(raw) || raw.startsWith('~')) {
    return { error: 'must be relative to the workspace' };
  }
  const path = posix.normalize(raw);
  if (path === '..' || path.startsWith('../')) return { error: 'escapes the workspace' };
  if (path === '.' || path.endsWith('/')) return { error: 'is not a file path' };
  if (path.split('/').some((segment) => segment.toLowerCase() === '.git')) {
    return { error: 'is inside .git/' };
  }
  return { path };
}
