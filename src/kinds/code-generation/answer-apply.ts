import type { AnswerBlock } from './answer.parser';
import { checkWorkspacePath } from './workspace-path';

export interface PlannedFile {
  path: string;
  content: string;
  action: 'created' | 'modified';
  bytes: number;
}

export type Plan = { ok: true; files: PlannedFile[] } | { ok: false; error: string };

function occurrences(haystack: string, needle: string): number {
  let count = 0;
  for (let at = haystack.indexOf(needle); at !== -1; at = haystack.indexOf(needle, at + 1)) {
    count += 1;
  }
  return count;
}

/**
 * Turns the answer's blocks into the files to write, without touching the disk: `current`
 * reads a file as it is in the workspace (null when absent). Blocks apply in order, so an edit
 * may follow a file block of the same path. Any bad path or edit refuses the whole plan.
 */
export function planChanges(blocks: AnswerBlock[], current: (path: string) => string | null): Plan {
  const contents = new Map<string, string>();
  const existed = new Map<string, boolean>();
  for (const [index, block] of blocks.entries()) {
    const checked = checkWorkspacePath(block.path);
    if ('error' in checked) {
      return { ok: false, error: `block ${index + 1}: path "${block.path}" ${checked.error}` };
    }
    const { path } = checked;
    if (!existed.has(path)) {
      const before = current(path);
      existed.set(path, before !== null);
      if (before !== null) contents.set(path, before);
    }
    if (block.type === 'file') {
      contents.set(path, block.content);
      continue;
    }
    let text = contents.get(path);
    for (const [n, edit] of block.edits.entries()) {
      const which = `SEARCH block ${n + 1} of the edit to ${path}`;
      if (edit.search === '') {
        if (text !== undefined)
          return { ok: false, error: `${which} is empty but the file exists` };
        text = edit.replace;
        continue;
      }
      if (text === undefined) return { ok: false, error: `${which}: the file does not exist` };
      const found = occurrences(text, edit.search);
      if (found === 0) return { ok: false, error: `${which} does not match the file` };
      if (found > 1)
        return { ok: false, error: `${which} matches ${found} places; it must match one` };
      const at = text.indexOf(edit.search);
      text = text.slice(0, at) + edit.replace + text.slice(at + edit.search.length);
    }
    contents.set(path, text as string);
  }
  const files = [...contents.entries()].map(([path, content]) => ({
    path,
    content,
    action: existed.get(path) ? ('modified' as const) : ('created' as const),
    bytes: Buffer.byteLength(content),
  }));
  return { ok: true, files };
}
