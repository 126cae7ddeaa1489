import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';
import type { PlannedFile } from './answer-apply';
import { checkWorkspacePath } from './workspace-path';

export const MAX_CONTEXT_FILES = 50;
export const MAX_CONTEXT_BYTES = 512 * 1024;
/** The indexer skips larger files, so no chunk comes from one. */
const MAX_CHUNK_FILE_BYTES = 1024 * 1024;

export interface ContextFile {
  path: string;
  content: string;
}

/** Thrown with a message naming the file and the reason; the caller decides 400 or job error. */
export class WorkspaceFileError extends Error {
  override readonly name = 'WorkspaceFileError';
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** The deepest existing directory on the way to `path` must resolve inside the workspace. */
async function assertParentInside(realRoot: string, root: string, path: string): Promise<void> {
  let dir = dirname(join(root, path));
  while (!(await exists(dir))) dir = dirname(dir);
  if (!inside(realRoot, await realpath(dir))) {
    throw new WorkspaceFileError(`${path}: its directory links outside the workspace`);
  }
}

/** A workspace file's real path and size, or why it cannot be read as context. */
async function openInside(
  realRoot: string,
  root: string,
  raw: string,
  name: string,
): Promise<{ path: string; real: string; size: number }> {
  const checked = checkWorkspacePath(raw);
  if ('error' in checked) throw new WorkspaceFileError(`${name} ${checked.error}`);
  let real: string;
  try {
    real = await realpath(join(root, checked.path));
  } catch {
    throw new WorkspaceFileError(`${name}: ${checked.path} does not exist in the workspace`);
  }
  if (!inside(realRoot, real)) {
    throw new WorkspaceFileError(`${name}: ${checked.path} links outside the workspace`);
  }
  const info = await stat(real);
  if (!info.isFile()) throw new WorkspaceFileError(`${name}: ${checked.path} is not a file`);
  return { path: checked.path, real, size: info.size };
}

async function readText(real: string, path: string, name: string): Promise<string> {
  const bytes = await readFile(real);
  if (bytes.includes(0)) throw new WorkspaceFileError(`${name}: ${path} is not a text file`);
  return bytes.toString('utf8');
}

/** Reads the context files the client named, within the bounds of docs/code-generation.md. */
export async function readContextFiles(
  root: string,
  paths: readonly string[],
  field = 'params.files',
): Promise<ContextFile[]> {
  if (paths.length > MAX_CONTEXT_FILES) {
    throw new WorkspaceFileError(`${field} must name at most ${MAX_CONTEXT_FILES} files`);
  }
  const realRoot = await realpath(root);
  const files: ContextFile[] = [];
  let total = 0;
  for (const [index, raw] of paths.entries()) {
    const name = `${field}.${index}`;
    const { path, real, size } = await openInside(realRoot, root, raw, name);
    total += size;
    if (total > MAX_CONTEXT_BYTES) {
      throw new WorkspaceFileError(`${field} must total at most ${MAX_CONTEXT_BYTES} bytes`);
    }
    files.push({ path, content: await readText(real, path, name) });
  }
  return files;
}

/** A line range of a workspace file, found by code search. */
export interface ChunkRange {
  path: string;
  startLine: number;
  endLine: number;
}

export interface ContextChunk extends ChunkRange {
  content: string;
}

/**
 * Reads the chunks' lines as the workspace has them now, in the order given, while they fit in
 * `budget` bytes; a chunk that does not fit, or whose file is gone or unreadable, is left out.
 */
export async function readContextChunks(
  root: string,
  ranges: readonly ChunkRange[],
  budget: number,
): Promise<ContextChunk[]> {
  const realRoot = await realpath(root);
  const chunks: ContextChunk[] = [];
  let left = budget;
  for (const range of ranges) {
    let text: string;
    try {
      const { path, real, size } = await openInside(realRoot, root, range.path, 'chunk');
      if (size > MAX_CHUNK_FILE_BYTES) continue;
      text = await readText(real, path, 'chunk');
    } catch (error) {
      if (error instanceof WorkspaceFileError) continue;
      throw error;
    }
    const lines = text.split('\n').slice(range.startLine - 1, range.endLine);
    if (lines.length === 0) continue;
    const content = lines.join('\n');
    const bytes = Buffer.byteLength(content);
    if (bytes > left) continue;
    left -= bytes;
    chunks.push({
      path: range.path,
      startLine: range.startLine,
      endLine: range.startLine + lines.length - 1,
      content,
    });
  }
  return chunks;
}

/** A file's current text, or null when it does not exist (what planChanges reads). */
export async function readCurrent(
  root: string,
  paths: readonly string[],
): Promise<Map<string, string | null>> {
  const realRoot = await realpath(root);
  const out = new Map<string, string | null>();
  for (const path of paths) {
    const checked = checkWorkspacePath(path);
    if ('error' in checked) continue;
    const full = join(root, checked.path);
    await assertParentInside(realRoot, root, checked.path);
    const info = await lstat(full).catch(() => null);
    if (info === null) out.set(checked.path, null);
    else if (info.isSymbolicLink())
      throw new WorkspaceFileError(`${checked.path} is a symbolic link`);
    else if (!info.isFile()) throw new WorkspaceFileError(`${checked.path} is not a regular file`);
    else out.set(checked.path, await readFile(full, 'utf8'));
  }
  return out;
}

/**
 * Writes every planned file or none: each is first written beside its target, then all are
 * renamed into place; a failure removes what was written and restores what was replaced.
 */
export async function writeAllOrNothing(
  root: string,
  files: readonly PlannedFile[],
  originals: ReadonlyMap<string, string | null>,
): Promise<void> {
  const realRoot = await realpath(root);
  for (const file of files) {
    const checked = checkWorkspacePath(file.path);
    if ('error' in checked) throw new WorkspaceFileError(`${file.path} ${checked.error}`);
    await assertParentInside(realRoot, root, file.path);
    const info = await lstat(join(root, file.path)).catch(() => null);
    if (info?.isSymbolicLink()) throw new WorkspaceFileError(`${file.path} is a symbolic link`);
    if (info && !info.isFile()) throw new WorkspaceFileError(`${file.path} is not a regular file`);
  }
  const createdDirs: string[] = [];
  const staged: { temp: string; target: string; file: PlannedFile; mode?: number }[] = [];
  const renamed: typeof staged = [];
  try {
    for (const file of files) {
      const target = join(root, file.path);
      const dir = dirname(target);
      if (!(await exists(dir))) {
        const first = await mkdir(dir, { recursive: true });
        if (first !== undefined) createdDirs.push(first);
      }
      const temp = join(dir, `.conveyor-${randomBytes(6).toString('hex')}.tmp`);
      const mode =
        originals.get(file.path) !== null
          ? (await stat(target).catch(() => null))?.mode
          : undefined;
      await writeFile(temp, file.content, { flag: 'wx', ...(mode !== undefined && { mode }) });
      staged.push({ temp, target, file, mode });
    }
    for (const entry of staged) {
      await rename(entry.temp, entry.target);
      renamed.push(entry);
    }
  } catch (error) {
    for (const entry of staged) await rm(entry.temp, { force: true });
    for (const entry of renamed.reverse()) {
      const original = originals.get(entry.file.path);
      if (original === null || original === undefined) await rm(entry.target, { force: true });
      else
        await writeFile(
          entry.target,
          original,
          entry.mode !== undefined ? { mode: entry.mode } : {},
        );
    }
    for (const dir of createdDirs.reverse()) await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
