import { parseAnswer } from './answer.parser';

describe('parseAnswer', () => {
  it('reads whole-file blocks and ignores the prose around them', () => {
    const text = [
      'Here is the change.',
      '<file path="src/a.ts">',
      'export const a = 1;',
      '',
      '</file>',
      'And a second file:',
      "<file path='b.txt'>",
      'b',
      '</file>',
      'Done.',
    ].join('\n');
    expect(parseAnswer(text)).toEqual({
      ok: true,
      blocks: [
        { type: 'file', path: 'src/a.ts', content: 'export const a = 1;\n\n' },
        { type: 'file', path: 'b.txt', content: 'b\n' },
      ],
    });
  });

  it('reads an answer with no block as no files', () => {
    expect(parseAnswer('Nothing to change.')).toEqual({ ok: true, blocks: [] });
    expect(parseAnswer('')).toEqual({ ok: true, blocks: [] });
  });

  it('accepts a one-line block, CRLF line ends, an empty file, and strips a markdown fence', () => {
    expect(parseAnswer('<file path="x">hi</file>')).toEqual({
      ok: true,
      blocks: [{ type: 'file', path: 'x', content: 'hi' }],
    });
    expect(parseAnswer('<file path="x">\r\na\r\n</file>\r\n')).toEqual({
      ok: true,
      blocks: [{ type: 'file', path: 'x', content: 'a\n' }],
    });
    expect(parseAnswer('<file path="empty">\n</file>')).toEqual({
      ok: true,
      blocks: [{ type: 'file', path: 'empty', content: '' }],
    });
    expect(parseAnswer('<file path="a.ts">\n```ts\nconst a = 1;\n```\n</file>')).toEqual({
      ok: true,
      blocks: [{ type: 'file', path: 'a.ts', content: 'const a = 1;\n' }],
    });
  });

  it('keeps tags that are not on a line of their own as content', () => {
    const text = '<file path="doc.md">\nUse <file path="x"> blocks.\n</file>';
    expect(parseAnswer(text)).toEqual({
      ok: true,
      blocks: [{ type: 'file', path: 'doc.md', content: 'Use <file path="x"> blocks.\n' }],
    });
  });

  it('reads SEARCH/REPLACE edit blocks', () => {
    const text = [
      '<edit path="big.js">',
      '<<<<<<< SEARCH',
      'const a = 1;',
      '=======',
      'const a = 2;',
      '>>>>>>> REPLACE',
      '',
      '<<<<<<< SEARCH',
      'old();',
      '=======',
      '>>>>>>> REPLACE',
      '</edit>',
    ].join('\n');
    expect(parseAnswer(text)).toEqual({
      ok: true,
      blocks: [
        {
          type: 'edit',
          path: 'big.js',
          edits: [
            { search: 'const a = 1;\n', replace: 'const a = 2;\n' },
            { search: 'old();\n', replace: '' },
          ],
        },
      ],
    });
  });

  it.each([
    [
      'an unclosed block',
      '<file path="a">\nx\n',
      /not closed \(the answer may have been cut off\)/,
    ],
    ['a block without a path', '<file>\nx\n</file>', /line 1: <file> without a path attribute/],
    ['an empty path', '<file path="">\nx\n</file>', /without a path attribute/],
    ['a stray closing tag', 'x\n</file>', /line 2: <\/file> without its <file>/],
    [
      'a block opened inside another',
      '<file path="a">\n<file path="b">\n</file>',
      /not closed before line 2/,
    ],
    ['a mismatched closing tag', '<file path="a">\nx\n</edit>', /is closed by <\/edit>/],
    ['an edit without SEARCH blocks', '<edit path="a">\n</edit>', /has no SEARCH\/REPLACE block/],
    [
      'text outside SEARCH blocks',
      '<edit path="a">\nhello\n</edit>',
      /text outside its SEARCH\/REPLACE blocks/,
    ],
    ['a SEARCH without divider', '<edit path="a">\n<<<<<<< SEARCH\nx\n</edit>', /has no =======/],
    [
      'a SEARCH without REPLACE',
      '<edit path="a">\n<<<<<<< SEARCH\nx\n=======\ny\n</edit>',
      /has no >>>>>>> REPLACE/,
    ],
  ])('refuses %s', (_label, text, error) => {
    const parsed = parseAnswer(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toMatch(error);
  });
});
