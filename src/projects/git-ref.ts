import type { GitCli } from './git-cli';

/** Longer names are refused before git sees them (GitHub's own limit on a ref is 255 bytes). */
const MAX_BRANCH_BYTES = 255;

/**
 * Why `name` is not a branch name by git's rules (git-check-ref-format(1) for refs/heads/<name>,
 * plus what `git branch` adds: no leading "-", not "HEAD"), or null. `field` names it in the message.
 */
export function branchNameProblem(field: string, name: string): string | null {
  const bad = (why: string) => `${field} is not a valid git branch name: ${why}`;
  if (name === '') return bad('it is empty');
  if (Buffer.byteLength(name) > MAX_BRANCH_BYTES)
    return bad(`longer than ${MAX_BRANCH_BYTES} bytes`);
  if (name.startsWith('-')) return bad('it starts with "-"');
  if (name === 'HEAD' || name === '@') return bad(`"${name}" is reserved`);
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x20\x7f]/.test(name)) return bad('it contains a space or a control character');
  const forbidden = /[~^:?*[\\]/.exec(name);
  if (forbidden) return bad(`it contains "${forbidden[0]}"`);
  if (name.includes('..')) return bad('it contains ".."');
  if (name.includes('@{')) return bad('it contains "@{"');
  if (name.startsWith('/') || name.endsWith('/') || name.includes('//')) {
    return bad('it starts or ends with "/" or contains "//"');
  }
  if (name.endsWith('.')) return bad('it ends with "."');
  for (const part of name.split('/')) {
    if (part.startsWith('.')) return bad('a component starts with "."');
    if (part.endsWith('.lock')) return bad('a component ends with ".lock"');
  }
  return null;
}

/** The same question asked of git itself (`git check-ref-format`), after the pure check. */
export async function checkBranchName(
  git: GitCli,
  field: string,
  name: string,
): Promise<string | null> {
  const problem = branchNameProblem(field, name);
  if (problem) return problem;
  const { exitCode } = await git.run(['check-ref-format', `refs/heads/${name}`], {
    okExitCodes: [1],
    timeoutMs: 10_000,
  });
  return exitCode === 0 ? null : `${field} is not a valid git branch name (git check-ref-format)`;
}
