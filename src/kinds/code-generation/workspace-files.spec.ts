import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  chmodSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PlannedFile } from './answer-apply';
import {
  MAX_CONTEXT_BYTES,
  readContextChunks,
  readContextFiles,
  readCurrent,
  writeAllOrNothing,
} from './workspace-files';

const file = (
  path: string,
  content: string,
  action: PlannedFile['action'] = 'created',
): PlannedFile => ({
  path,
  content,
  action,
  bytes: Buffer.byteLength(content),
});

describe('workspace files', () => {
  let root: string;
  let workspace: string;
  let outside: string;

  beforeEach(() => {
    root = realpathSync(mkdtempSync(join(tmpdir(), 'conveyor-codegen-files-')));
    workspace = join(root, 'ws');
    outside = join(root, 'outside');
    mkdirSync(join(workspace, 'src'), { recursive: true });
    mkdirSync(outside);
    writeFileSync(join(workspace, 'README.md'), '# readme\n');
    writeFileSync(join(workspace, 'src', 'a.js'), 'a\n');
    writeFileSync(join(outside, 'secret.txt'), 'secret\n');
    symlinkSync(outside, join(workspace, 'out-dir'));
    symlinkSync(join(outside, 'secret.txt'), join(workspace, 'secret-link.txt'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  /** Every file under the workspace with its content, to compare before and after. */
  function snapshot(): Record<string, string> {
    const out: Record<string, string> = {};
    const walk = (dir: string, prefix: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const rel = prefix + entry.name;
        if (entry.isSymbolicLink()) out[rel] = '-> link';
        else if (entry.isDirectory()) walk(join(dir, entry.name), `${rel}/`);
        else out[rel] = readFileSync(join(dir, entry.name), 'utf8');
      }
    };
    walk(workspace, '');
    return out;
  }

  describe('readContextFiles', () => {
    it('reads the named files', async () => {
      await expect(readContextFiles(workspace, ['README.md', './src/a.js'])).resolves.toEqual([
        { path: 'README.md', content: '# readme\n' },
        { path: 'src/a.js', content: 'a\n' },
      ]);
    });

    it.each([
      ['out-dir/secret.txt', /params\.files\.0: out-dir\/secret\.txt links outside the workspace/],
      ['secret-link.txt', /links outside the workspace/],
      ['missing.js', /does not exist in the workspace/],
      ['src', /is not a file/],
      ['../outside/secret.txt', /escapes the workspace/],
    ])('refuses %s', async (path, error) => {
      await expect(readContextFiles(workspace, [path])).rejects.toThrow(error);
    });

    it('refuses binary files and more than 512 KiB together', async () => {
      writeFileSync(join(workspace, 'bin.dat'), Buffer.from([1, 0, 2]));
      await expect(readContextFiles(workspace, ['bin.dat'])).rejects.toThrow(/is not a text file/);
      writeFileSync(join(workspace, 'big1.txt'), 'x'.repeat(MAX_CONTEXT_BYTES / 2));
      writeFileSync(join(workspace, 'big2.txt'), 'x'.repeat(MAX_CONTEXT_BYTES / 2 + 1));
      await expect(readContextFiles(workspace, ['big1.txt', 'big2.txt'])).rejects.toThrow(
        'params.files must total at most 524288 bytes',
      );
    });
  });

  describe('writeAllOrNothing', () => {
    it('writes new files (creating directories) and replaces existing ones, keeping their mode', async () => {
      chmodSync(join(workspace, 'src', 'a.js'), 0o755);
      const files = [file('src/a.js', 'new a\n', 'modified'), file('deep/er/b.js', 'b\n')];
      await writeAllOrNothing(
        workspace,
        files,
        await readCurrent(workspace, ['src/a.js', 'deep/er/b.js']),
      );
      expect(readFileSync(join(workspace, 'src/a.js'), 'utf8')).toBe('new a\n');
      expect(statSync(join(workspace, 'src/a.js')).mode & 0o777).toBe(0o755);
      expect(readFileSync(join(workspace, 'deep/er/b.js'), 'utf8')).toBe('b\n');
      expect(Object.keys(snapshot()).filter((path) => path.includes('.conveyor-'))).toEqual([]);
    });

    it.each([
      [
        'through a directory link leading outside',
        'out-dir/planted.txt',
        /links outside the workspace/,
      ],
      ['onto a link', 'secret-link.txt', /is a symbolic link/],
      ['onto a directory', 'src', /is not a regular file/],
    ])('writes nothing when one file goes %s', async (_label, path, error) => {
      const before = snapshot();
      const files = [file('ok.js', 'ok\n'), file(path, 'x\n')];
      await expect(writeAllOrNothing(workspace, files, new Map())).rejects.toThrow(error);
      expect(snapshot()).toEqual(before);
      expect(readFileSync(join(outside, 'secret.txt'), 'utf8')).toBe('secret\n');
      expect(existsSync(join(outside, 'planted.txt'))).toBe(false);
    });

    it('removes what it wrote when a later file cannot be written', async () => {
      const before = snapshot();
      // README.md is a file, so README.md/x.js cannot be created: the failure comes mid-way.
      const files = [
        file('new/dir/first.js', '1\n'),
        file('src/a.js', 'changed\n', 'modified'),
        file('README.md/x.js', 'x\n'),
      ];
      await expect(
        writeAllOrNothing(
          workspace,
          files,
          await readCurrent(workspace, ['new/dir/first.js', 'src/a.js']),
        ),
      ).rejects.toThrow();
      expect(snapshot()).toEqual(before);
      expect(existsSync(join(workspace, 'new'))).toBe(false);
    });
  });

  describe('readContextChunks', () => {
    it('reads the lines of each chunk in order, within the budget, leaving out what does not fit', async () => {
      writeFileSync(join(workspace, 'src', 'b.js'), 'one\ntwo\nthree\nfour\n');
      writeFileSync(join(workspace, 'src', 'big.js'), `${'x'.repeat(100)}\n`);
      const chunks = await readContextChunks(
        workspace,
        [
          { path: 'src/b.js', startLine: 2, endLine: 3 },
          { path: 'src/big.js', startLine: 1, endLine: 1 },
          { path: 'src/a.js', startLine: 1, endLine: 1 },
        ],
        20,
      );
      expect(chunks).toEqual([
        { path: 'src/b.js', startLine: 2, endLine: 3, content: 'two\nthree' },
        { path: 'src/a.js', startLine: 1, endLine: 1, content: 'a' },
      ]);
    });

    it('leaves out chunks whose file is gone, links outside, is binary or has fewer lines now', async () => {
      writeFileSync(join(workspace, 'bin.dat'), Buffer.from([1, 0, 2]));
      const chunks = await readContextChunks(
        workspace,
        [
          { path: 'gone.js', startLine: 1, endLine: 2 },
          { path: 'secret-link.txt', startLine: 1, endLine: 1 },
          { path: 'bin.dat', startLine: 1, endLine: 1 },
          { path: 'README.md', startLine: 5, endLine: 9 },
          { path: 'README.md', startLine: 1, endLine: 9 },
        ],
        MAX_CONTEXT_BYTES,
      );
      expect(chunks).toEqual([
        { path: 'README.md', startLine: 1, endLine: 2, content: '# readme\n' },
      ]);
    });
  });
});
