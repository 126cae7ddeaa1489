import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { loadConfig } from '../config/app-config';
import { GitCli } from './git-cli';
import { branchNameProblem, checkBranchName } from './git-ref';

function gitAccepts(name: string): boolean {
  try {
    execFileSync('git', ['check-ref-format', `refs/heads/${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('branchNameProblem', () => {
  it.each([
    'main',
    'feature/JIRA-12_x',
    'release/1.2',
    'v1.0.0',
    'a',
    'conveyor/42-fix',
    'ü-branch',
  ])('accepts %s, as git does', (name) => {
    expect(branchNameProblem('b', name)).toBeNull();
    expect(gitAccepts(name)).toBe(true);
  });

  it.each([
    ['', 'it is empty'],
    ['-f', 'it starts with "-"'],
    ['HEAD', '"HEAD" is reserved'],
    ['@', '"@" is reserved'],
    ['my branch', 'it contains a space or a control character'],
    ['tab\there', 'it contains a space or a control character'],
    ['del\x7f', 'it contains a space or a control character'],
    ['main~1', 'it contains "~"'],
    ['main^', 'it contains "^"'],
    ['a:b', 'it contains ":"'],
    ['a?b', 'it contains "?"'],
    ['a*b', 'it contains "*"'],
    ['a[b', 'it contains "["'],
    ['a\\b', 'it contains "\\"'],
    ['a..b', 'it contains ".."'],
    ['a@{1}', 'it contains "@{"'],
    ['/main', 'it starts or ends with "/" or contains "//"'],
    ['main/', 'it starts or ends with "/" or contains "//"'],
    ['a//b', 'it starts or ends with "/" or contains "//"'],
    ['main.', 'it ends with "."'],
    ['.hidden', 'a component starts with "."'],
    ['a/.b', 'a component starts with "."'],
    ['main.lock', 'a component ends with ".lock"'],
    ['a.lock/b', 'a component ends with ".lock"'],
    ['b'.repeat(256), 'longer than 255 bytes'],
  ])('refuses %j: %s', (name, why) => {
    expect(branchNameProblem('params.sourceBranch', name)).toBe(
      `params.sourceBranch is not a valid git branch name: ${why}`,
    );
  });

  it("never accepts a name git's check-ref-format refuses", () => {
    const alphabet = fc.constantFrom(...'ab/.-_@{}~^:?*[\\ \t'.split(''), 'lock', '..', '@{');
    fc.assert(
      fc.property(fc.array(alphabet, { minLength: 1, maxLength: 8 }), (parts) => {
        const name = parts.join('');
        if (branchNameProblem('b', name) === null) expect(gitAccepts(name)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('checkBranchName', () => {
  const git = new GitCli(loadConfig({ NODE_ENV: 'test', JWT_SECRET: 'x'.repeat(16) }));

  it('asks git after the pure check', async () => {
    await expect(checkBranchName(git, 'params.targetBranch', 'feature/x')).resolves.toBeNull();
    await expect(checkBranchName(git, 'params.targetBranch', 'a..b')).resolves.toBe(
      'params.targetBranch is not a valid git branch name: it contains ".."',
    );
  });
});
