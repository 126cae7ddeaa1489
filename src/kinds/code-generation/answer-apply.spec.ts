import { planChanges } from './answer-apply';
import type { AnswerBlock } from './answer.parser';

const workspace: Record<string, string> = {
  'src/a.js': 'const a = 1;\nconst b = 2;\n',
  'dup.js': 'x\nx\n',
};
const current = (path: string) => workspace[path] ?? null;

describe('planChanges', () => {
  it('marks new files created and existing ones modified, with their byte size', () => {
    const plan = planChanges(
      [
        { type: 'file', path: 'src/new.js', content: 'é\n' },
        { type: 'file', path: './src/a.js', content: 'replaced\n' },
      ],
      current,
    );
    expect(plan).toEqual({
      ok: true,
      files: [
        { path: 'src/new.js', content: 'é\n', action: 'created', bytes: 3 },
        { path: 'src/a.js', content: 'replaced\n', action: 'modified', bytes: 9 },
      ],
    });
  });

  it('applies SEARCH/REPLACE edits in order, also to a file written earlier in the answer', () => {
    const plan = planChanges(
      [
        {
          type: 'edit',
          path: 'src/a.js',
          edits: [{ search: 'const b = 2;\n', replace: 'const b = 3;\n' }],
        },
        { type: 'file', path: 'n.js', content: 'one\ntwo\n' },
        { type: 'edit', path: 'n.js', edits: [{ search: 'two\n', replace: 'three\n' }] },
        { type: 'edit', path: 'created.js', edits: [{ search: '', replace: 'fresh\n' }] },
      ],
      current,
    );
    expect(plan.ok && plan.files).toEqual([
      { path: 'src/a.js', content: 'const a = 1;\nconst b = 3;\n', action: 'modified', bytes: 26 },
      { path: 'n.js', content: 'one\nthree\n', action: 'created', bytes: 10 },
      { path: 'created.js', content: 'fresh\n', action: 'created', bytes: 6 },
    ]);
  });

  it.each<[string, AnswerBlock, RegExp]>([
    [
      'an escaping path',
      { type: 'file', path: '../x', content: '' },
      /block 2: path "\.\.\/x" escapes the workspace/,
    ],
    [
      'an escaping path in the middle',
      { type: 'file', path: 'a/../../x', content: '' },
      /escapes the workspace/,
    ],
    ['an absolute path', { type: 'file', path: '/etc/passwd', content: '' }, /must be relative/],
    [
      'a path into .git',
      { type: 'file', path: '.git/hooks/pre-commit', content: '' },
      /inside \.git/,
    ],
    ['a nested .git', { type: 'file', path: 'sub/.GIT/config', content: '' }, /inside \.git/],
    [
      'a SEARCH that does not match',
      { type: 'edit', path: 'src/a.js', edits: [{ search: 'nope\n', replace: '' }] },
      /does not match/,
    ],
    [
      'a SEARCH matching twice',
      { type: 'edit', path: 'dup.js', edits: [{ search: 'x\n', replace: 'y\n' }] },
      /matches 2 places/,
    ],
    [
      'an edit to a missing file',
      { type: 'edit', path: 'missing.js', edits: [{ search: 'a', replace: 'b' }] },
      /does not exist/,
    ],
    [
      'an empty SEARCH on an existing file',
      { type: 'edit', path: 'src/a.js', edits: [{ search: '', replace: 'b' }] },
      /is empty but the file exists/,
    ],
  ])('refuses the whole plan for %s', (_label, bad, error) => {
    const plan = planChanges([{ type: 'file', path: 'ok.js', content: 'ok\n' }, bad], current);
    expect(plan.ok).toBe(false);
    if (!plan.ok) expect(plan.error).toMatch(error);
  });
});
