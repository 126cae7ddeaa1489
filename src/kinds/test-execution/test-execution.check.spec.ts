import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_TEST_COMMAND_ALLOWLIST,
  loadConfig,
  type AppConfig,
} from '../../config/app-config';
import { checkTestExecution } from './test-execution.check';
import type { TestExecutionParams } from './test-execution.params';

function config(env: Record<string, string> = {}): AppConfig {
  return loadConfig({ NODE_ENV: 'test', JWT_SECRET: 'unit-test-secret-0123456789', ...env });
}

describe('checkTestExecution', () => {
  let root: string;
  let workspace: string;
  let outside: string;
  const defaults = config();

  function check(params: TestExecutionParams, appConfig: AppConfig = defaults): string | null {
    return checkTestExecution(params, { config: appConfig, workspace });
  }

  beforeAll(() => {
    root = realpathSync(mkdtempSync(join(tmpdir(), 'conveyor-check-')));
    workspace = join(root, 'workspace');
    outside = join(root, 'outside');
    mkdirSync(join(workspace, 'test', 'unit'), { recursive: true });
    mkdirSync(outside);
    writeFileSync(join(workspace, 'test', 'unit', 'a.test.js'), '');
    writeFileSync(join(workspace, '..hidden.test.js'), '');
    writeFileSync(join(outside, 'secret.txt'), 'secret');
    // Links that stay inside are fine; links that leave the workspace are not.
    symlinkSync(join(workspace, 'test'), join(workspace, 'tests-link'));
    symlinkSync(join(outside, 'secret.txt'), join(workspace, 'secret-link.txt'));
    symlinkSync(outside, join(workspace, 'outside-dir'));
    symlinkSync('/etc', join(workspace, 'etc'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('accepts an allowed command with files inside the workspace', () => {
    expect(check({ testCommand: 'node --test' })).toBeNull();
    expect(
      check({
        testCommand: 'npx jest --ci',
        files: ['test/unit/a.test.js', './test', 'test/unit/../unit', 'not-yet-there.test.js'],
        timeoutMs: 60_000,
      }),
    ).toBeNull();
    expect(check({ testCommand: 'node --test', files: [join(workspace, 'test')] })).toBeNull();
    expect(check({ testCommand: 'node --test', files: ['tests-link/unit/a.test.js'] })).toBeNull();
  });

  it('accepts every executable of the default allowlist', () => {
    expect(defaults.testExecution.allowlist).toEqual(DEFAULT_TEST_COMMAND_ALLOWLIST);
    for (const executable of DEFAULT_TEST_COMMAND_ALLOWLIST) {
      expect(check({ testCommand: `${executable} test` })).toBeNull();
    }
  });

  it('refuses an executable off the allowlist, listing the allowed ones', () => {
    for (const executable of ['bash', 'sh', 'python3', 'curl', 'rm', 'nodejs', 'NPM']) {
      expect(check({ testCommand: `${executable} -c x` })).toBe(
        `params.testCommand: "${executable}" is not an allowed executable (${DEFAULT_TEST_COMMAND_ALLOWLIST.join(', ')})`,
      );
    }
  });

  it('refuses an allowed name given as a path (it could be any program)', () => {
    for (const executable of [
      '/usr/bin/node',
      './node',
      'bin/jest',
      '../npm',
      'node_modules/.bin/jest',
    ]) {
      expect(check({ testCommand: `${executable} test` })).toMatch(
        new RegExp(
          `^params\\.testCommand: "${executable.replace(/[.]/g, '\\.')}" is not an allowed`,
        ),
      );
    }
  });

  it('follows TEST_COMMAND_ALLOWLIST', () => {
    const custom = config({ TEST_COMMAND_ALLOWLIST: 'make, bun' });
    expect(check({ testCommand: 'make test' }, custom)).toBeNull();
    expect(check({ testCommand: 'bun test' }, custom)).toBeNull();
    expect(check({ testCommand: 'npm test' }, custom)).toBe(
      'params.testCommand: "npm" is not an allowed executable (make, bun)',
    );
  });

  it('reports the command problems of splitCommand first', () => {
    expect(check({ testCommand: 'npm test; curl evil' })).toBe(
      'params.testCommand must not contain ";"',
    );
    expect(check({ testCommand: 'bash -c "x | y"' })).toBe(
      'params.testCommand must not contain "|"',
    );
    expect(check({ testCommand: 'jest "open' })).toBe('params.testCommand has an unclosed " quote');
  });

  it('bounds timeoutMs by TEST_TIMEOUT_MAX_MS', () => {
    const bounded = config({ TEST_TIMEOUT_MAX_MS: '60000', TEST_TIMEOUT_MS: '30000' });
    expect(check({ testCommand: 'npm test', timeoutMs: 60_000 }, bounded)).toBeNull();
    expect(check({ testCommand: 'npm test', timeoutMs: 60_001 }, bounded)).toBe(
      'params.timeoutMs must not exceed 60000',
    );
    expect(check({ testCommand: 'npm test', timeoutMs: 30 * 60_000 })).toBeNull();
    expect(check({ testCommand: 'npm test', timeoutMs: 30 * 60_000 + 1 })).toBe(
      'params.timeoutMs must not exceed 1800000',
    );
  });

  it.each([['../outside/secret.txt'], ['..'], ['test/../../outside'], ['./../workspace-sibling']])(
    'refuses %s, which climbs out of the workspace',
    (file) => {
      expect(check({ testCommand: 'node --test', files: ['test', file] })).toBe(
        'params.files.1 must stay inside the workspace',
      );
    },
  );

  it('refuses absolute paths outside the workspace', () => {
    for (const file of ['/etc/passwd', '/', outside, `${workspace}-sibling/x`]) {
      expect(check({ testCommand: 'node --test', files: [file] })).toBe(
        'params.files.0 must stay inside the workspace',
      );
    }
  });

  it('refuses paths that link outside the workspace', () => {
    for (const file of ['secret-link.txt', 'outside-dir', 'outside-dir/secret.txt', 'etc/passwd']) {
      expect(check({ testCommand: 'node --test', files: [file] })).toBe(
        'params.files.0 must stay inside the workspace (it links outside)',
      );
    }
  });

  it('accepts a file whose name merely starts with two dots', () => {
    expect(check({ testCommand: 'node --test', files: ['..hidden.test.js'] })).toBeNull();
    expect(check({ testCommand: 'node --test', files: ['test/..cache'] })).toBeNull();
  });

  it('refuses files that would be read as options, and empty ones', () => {
    for (const file of ['-r', '--require=evil.js', '--', '-']) {
      expect(check({ testCommand: 'node --test', files: ['test', file] })).toBe(
        'params.files.1 must be a path, not an option',
      );
    }
    expect(check({ testCommand: 'node --test', files: [''] })).toBe(
      'params.files.0 must be a path, not an option',
    );
    // Written as a path, a file named like an option is fine.
    expect(check({ testCommand: 'node --test', files: ['./-r'] })).toBeNull();
  });
});
