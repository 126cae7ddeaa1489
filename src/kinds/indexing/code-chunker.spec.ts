import {
  CodeChunker,
  MAX_CHUNK_CHARS,
  MAX_CHUNK_LINES,
  WINDOW_LINES,
  WINDOW_OVERLAP,
  type Chunk,
} from './code-chunker';

const chunker = new CodeChunker();
const symbols = (chunks: Chunk[]) => chunks.map((chunk) => chunk.symbol);

describe('CodeChunker', () => {
  it('cuts TypeScript into functions, classes, methods and arrow functions, with doc comments', async () => {
    const source = [
      "import { x } from './x';",
      '',
      '/** Parses the config. */',
      'export function parseConfig(text: string): number {',
      '  return text.length;',
      '}',
      '',
      'export class UserRepository {',
      '  find(id: string) {',
      '    return id;',
      '  }',
      '}',
      '',
      'export const handler = async () => 1;',
      'interface Options { a: number }',
    ].join('\n');
    const chunks = await chunker.chunk('src/a.ts', source);
    expect(
      chunks.map(({ startLine, endLine, symbol }) => ({ startLine, endLine, symbol })),
    ).toEqual([
      { startLine: 1, endLine: 2, symbol: null },
      { startLine: 3, endLine: 6, symbol: 'parseConfig' },
      { startLine: 8, endLine: 12, symbol: 'UserRepository' },
      { startLine: 14, endLine: 14, symbol: 'handler' },
      { startLine: 15, endLine: 15, symbol: 'Options' },
    ]);
    expect(chunks[1].content).toContain('/** Parses the config. */');
  });

  it('splits a class too large to keep whole into its methods', async () => {
    const method = (n: number) =>
      [`  method${n}() {`, ...Array.from({ length: 30 }, (_, i) => `    call(${i});`), '  }'].join(
        '\n',
      );
    const source = ['class Big {', '  field = 1;', ...[1, 2, 3, 4, 5].map(method), '}'].join('\n');
    const chunks = await chunker.chunk('big.js', source);
    // The class's header joins its first method; its closing brace is no chunk of its own.
    expect(symbols(chunks)).toEqual([
      'Big.method1',
      'Big.method2',
      'Big.method3',
      'Big.method4',
      'Big.method5',
    ]);
    expect(chunks[0]).toMatchObject({ startLine: 1 });
    expect(chunks[0].content).toContain('class Big {');
    for (const chunk of chunks)
      expect(chunk.endLine - chunk.startLine + 1).toBeLessThanOrEqual(MAX_CHUNK_LINES);
  });

  it('leaves no chunk that is only braces or a source-map line', async () => {
    const method = (n: number) =>
      [`  m${n}() {`, ...Array.from({ length: 40 }, (_, i) => `    f(${i});`), '  }'].join('\n');
    const source = [
      'export class Big {',
      ...[1, 2, 3].map(method),
      '}',
      '',
      'export default Big;',
      '//# sourceMappingURL=big.js.map',
    ].join('\n');
    const chunks = await chunker.chunk('big.js', source);
    expect(symbols(chunks)).toEqual(['Big.m1', 'Big.m2', 'Big.m3']);
    expect(chunks.at(-1)!.content).toContain('export default Big;');
    for (const chunk of chunks) expect(chunk.content.trim()).not.toMatch(/^[}\s]*$/);
  });

  it.each([
    [
      'main.py',
      'class Greeter:\n    def greet(self, name):\n        return name\n\ndef main():\n    pass\n',
      ['Greeter', 'main'],
    ],
    [
      'main.go',
      'package main\n\ntype Server struct{}\n\nfunc (s *Server) Serve() {}\n\nfunc main() {}\n',
      [null, 'Server', 'Serve', 'main'],
    ],
    [
      'lib.rs',
      'struct Point { x: i32 }\n\nimpl Point {\n    fn norm(&self) -> i32 { self.x }\n}\n\nfn main() {}\n',
      ['Point', 'Point', 'main'],
    ],
    ['App.java', 'class App {\n  void run() {}\n}\n', ['App']],
    ['view.tsx', 'export function View() {\n  return <div />;\n}\n', ['View']],
  ])('knows the units of %s', async (path, source, expected) => {
    expect(symbols(await chunker.chunk(path, source))).toEqual(expected);
  });

  it('cuts other files into bounded, overlapping line windows', async () => {
    const source = Array.from({ length: 150 }, (_, i) => `line ${i + 1}`).join('\n');
    const chunks = await chunker.chunk('notes.txt', source);
    expect(chunks[0]).toMatchObject({ startLine: 1, endLine: WINDOW_LINES, symbol: null });
    expect(chunks[1].startLine).toBe(WINDOW_LINES - WINDOW_OVERLAP + 1);
    expect(chunks.at(-1)!.endLine).toBe(150);
  });

  it('bounds chunks in characters too', async () => {
    const source = Array.from({ length: 40 }, () => 'x'.repeat(1000)).join('\n');
    for (const file of ['long.txt', 'long.js']) {
      for (const chunk of await chunker.chunk(file, source)) {
        expect(chunk.content.length).toBeLessThanOrEqual(MAX_CHUNK_CHARS);
      }
    }
  });
});
