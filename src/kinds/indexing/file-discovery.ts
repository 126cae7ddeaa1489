import { execFile } from 'node:child_process';
import { basename } from 'node:path';

/** Files larger than this are skipped unread. */
export const MAX_FILE_BYTES = 1024 * 1024;

export const SKIP_REASONS = ['binary', 'too-large', 'minified', 'generated', 'lockfile'] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

const LOCKFILES = new Set([
  'package-lock.json',
  'npm-shrinkwrap.json',
  'yarn.lock',
  'pnpm-lock.yaml',
  'bun.lockb',
  'bun.lock',
  'Cargo.lock',
  'Gemfile.lock',
  'poetry.lock',
  'Pipfile.lock',
  'uv.lock',
  'composer.lock',
  'go.sum',
  'mix.lock',
  'pubspec.lock',
  'Podfile.lock',
  'packages.lock.json',
  'flake.lock',
]);

const MINIFIED_NAME = /[.-]min\.(js|mjs|cjs|css)$/i;
const GENERATED_NAME =
  /(\.generated\.|\.g\.dart$|_pb2(_grpc)?\.py$|\.pb\.go$|\.pb\.(cc|h)$|\.map$)/i;
const GENERATED_HEADER = /@generated\b|\bDO NOT EDIT\b|\bauto-?generated\b/i;

/**
 * The files git would track in `root`: tracked ones and untracked ones not ignored
 * (.gitignore, .git/info/exclude). Run without a shell, with a minimal
 * environment, and with core.fsmonitor off: a job that ran in the workspace before may have
 * written a command there into .git/config, which git would otherwise run outside any sandbox.
 */
export function listRepositoryFiles(root: string, signal?: AbortSignal): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      [
        '-c',
        'core.fsmonitor=false',
        '-c',
        'core.quotePath=off',
        'ls-files',
        '-z',
        '--cached',
        '--others',
        '--exclude-standard',
      ],
      {
        cwd: root,
        maxBuffer: 512 * 1024 * 1024,
        signal,
        encoding: 'utf8',
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          GIT_CONFIG_NOSYSTEM: '1',
          GIT_TERMINAL_PROMPT: '0',
        },
      },
      (error, stdout) => {
        if (error) {
          reject(new Error(`git ls-files failed in the workspace: ${error.message}`));
          return;
        }
        resolve([...new Set(stdout.split('\0').filter((path) => path !== ''))].sort());
      },
    );
  });
}

/** Why a file's name alone keeps it out of the index, or null. */
export function skipByName(path: string): SkipReason | null {
  const name = basename(path);
  if (LOCKFILES.has(name)) return 'lockfile';
  if (MINIFIED_NAME.test(name)) return 'minified';
  if (GENERATED_NAME.test(name)) return 'generated';
  return null;
}

/** Why a file's content keeps it out of the index, or null. */
export function skipByContent(bytes: Buffer): SkipReason | null {
  if (bytes.subarray(0, 8000).includes(0)) return 'binary';
  const text = bytes.toString('utf8');
  if (text.includes('\uFFFD') && !bytes.includes(Buffer.from('\uFFFD'))) return 'binary';
  const head = text.slice(0, 1000);
  if (GENERATED_HEADER.test(head)) return 'generated';
  const lines = text.split('\n');
  const longest = lines.reduce((max, line) => Math.max(max, line.length), 0);
  // Minified bundles: a few enormous lines.
  if (longest > 5000 || (text.length > 2000 && text.length / lines.length > 300)) return 'minified';
  return null;
}

/**
 * Glob to RegExp: `**` any number of directories, `*` and `?` within one name, `{a,b}`
 * alternatives. A pattern without a slash matches a file name at any depth (like .gitignore).
 */
export function globToRegExp(glob: string): RegExp {
  const anchored = glob.includes('/') && !glob.startsWith('**/');
  const pattern = glob.replace(/^\.?\//, '');
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '*' && pattern[i + 1] === '*') {
      const slash = pattern[i + 2] === '/';
      out += slash ? '(?:.*/)?' : '.*';
      i += slash ? 2 : 1;
    } else if (ch === '*') out += '[^/]*';
    else if (ch === '?') out += '[^/]';
    else if (ch === '{') {
      const close = pattern.indexOf('}', i);
      if (close === -1) out += '\\{';
      else {
        out += `(?:${pattern
          .slice(i + 1, close)
          .split(',')
          .map((alt) => alt.replace(/[.+^$()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*'))
          .join('|')})`;
        i = close;
      }
    } else out += ch.replace(/[.+^$()|[\]\\}]/g, '\\$&');
  }
  // A directory pattern (`docs/`, `vendor`) also covers everything under it.
  const body = out.endsWith('/') ? `${out}.*` : `${out}(?:/.*)?`;
  return new RegExp(anchored ? `^${body}$` : `^(?:.*/)?${body}$`);
}

/** Keeps the paths matching any include (all when none) and no exclude. */
export function filterPaths(
  paths: string[],
  include: string[] = [],
  exclude: string[] = [],
): string[] {
  const includes = include.map(globToRegExp);
  const excludes = exclude.map(globToRegExp);
  return paths.filter(
    (path) =>
      (includes.length === 0 || includes.some((re) => re.test(path))) &&
      !excludes.some((re) => re.test(path)),
  );
}
