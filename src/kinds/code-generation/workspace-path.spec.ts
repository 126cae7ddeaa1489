import { checkWorkspacePath } from './workspace-path';

describe('checkWorkspacePath', () => {
  it.each([
    ['a.ts', 'a.ts'],
    ['./src/a.ts', 'src/a.ts'],
    ['src/../lib/a.ts', 'lib/a.ts'],
    ['..cache/x', '..cache/x'],
    ['.github/workflows/ci.yml', '.github/workflows/ci.yml'],
    ['.gitignore', '.gitignore'],
  ])('accepts %s as %s', (raw, path) => {
    expect(checkWorkspacePath(raw)).toEqual({ path });
  });

  it.each([
    ['', 'is empty'],
    ['x'.repeat(1001), 'is longer than 1000 characters'],
    ['a\0b', 'contains a control character'],
    ['a\\b', 'must use / as separator'],
    ['/abs', 'must be relative to the workspace'],
    ['C:/x', 'must be relative to the workspace'],
    ['~/x', 'must be relative to the workspace'],
    ['..', 'escapes the workspace'],
    ['../x', 'escapes the workspace'],
    ['a/../../x', 'escapes the workspace'],
    ['.', 'is not a file path'],
    ['dir/', 'is not a file path'],
    ['.git/config', 'is inside .git/'],
    ['a/.git/HEAD', 'is inside .git/'],
    ['.Git/config', 'is inside .git/'],
  ])('refuses %j: %s', (raw, error) => {
    expect(checkWorkspacePath(raw)).toEqual({ error });
  });
});
