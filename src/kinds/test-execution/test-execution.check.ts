import { existsSync, realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import type { SubmitCheckContext } from '../../core/job.types';
import { checkWorkspacePath } from '../code-generation/workspace-path';
import { splitCommand } from './test-command';
import type { TestExecutionParams } from './test-execution.params';

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  // A name like "..cache" is inside; only a leading ".." segment climbs out.
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/** The submit-time checks that need configuration or the workspace: 400 with the reason. */
export function checkTestExecution(
  params: TestExecutionParams,
  { config, workspace }: SubmitCheckContext,
): string | null {
  const split = splitCommand(params.testCommand);
  if ('error' in split) return split.error;
  const executable = split.argv[0];
  const { allowlist, maxTimeoutMs } = config.testExecution;
  if (executable.includes('/') || !allowlist.includes(executable)) {
    return `params.testCommand: "${executable}" is not an allowed executable (${allowlist.join(', ')})`;
  }
  if (params.timeoutMs !== undefined && params.timeoutMs > maxTimeoutMs) {
    return `params.timeoutMs must not exceed ${maxTimeoutMs}`;
  }
  const root = workspace ?? '/';
  for (const [index, file] of (params.files ?? []).entries()) {
    const field = `params.files.${index}`;
    if (file === '' || file.startsWith('-')) return `${field} must be a path, not an option`;
    const target = resolve(root, file);
    if (!inside(root, target)) return `${field} must stay inside the workspace`;
    if (existsSync(target) && !inside(realpathSync(root), realpathSync(target))) {
      return `${field} must stay inside the workspace (it links outside)`;
    }
  }
  if (params.junitReport !== undefined) {
    const checked = checkWorkspacePath(params.junitReport);
    if ('error' in checked) return `params.junitReport ${checked.error}`;
    const target = resolve(root, checked.path);
    if (existsSync(target) && !inside(realpathSync(root), realpathSync(target))) {
      return 'params.junitReport must stay inside the workspace (it links outside)';
    }
  }
  return null;
}
