/** A whole file the answer creates or rewrites. */
export interface FileBlock {
  type: 'file';
  path: string;
  content: string;
}

/** One SEARCH/REPLACE pair: `search` must occur exactly once in the file. */
export interface SearchReplace {
  search: string;
  replace: string;
}

/** Edits to a file too large to repeat whole. */
export interface EditBlock {
  type: 'edit';
  path: string;
  edits: SearchReplace[];
}

export type AnswerBlock = FileBlock | EditBlock;

export type ParsedAnswer = { ok: true; blocks: AnswerBlock[] } | { ok: false; error: string };

const OPEN = /^\s*<(file|edit)(\s[^>]*)?>\s*$/;
const ONE_LINE = /^\s*<file(\s[^>]*)?>(.*)<\/file>\s*$/;
const CLOSE = /^\s*<\/(file|edit)>\s*$/;
const PATH_ATTRIBUTE = /\bpath\s*=\s*(?:"([^"]*)"|'([^']*)')/;
const FENCE = /^\s*(```|~~~)[\w.+-]*\s*$/;
const SEARCH = /^<{5,9} ?SEARCH\s*$/;
const DIVIDER = /^={5,9}\s*$/;
const REPLACE = /^>{5,9} ?REPLACE\s*$/;

function pathOf(attributes: string | undefined): string | null {
  const match = PATH_ATTRIBUTE.exec(attributes ?? '');
  if (!match) return null;
  return (match[1] ?? match[2]).trim();
}

function joinLines(lines: string[]): string {
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

/** Models often fence a file's content in markdown inside the block: the fence is not content. */
function unfence(lines: string[]): string[] {
  if (
    lines.length >= 2 &&
    FENCE.test(lines[0]) &&
    /^\s*(```|~~~)\s*$/.test(lines[lines.length - 1])
  ) {
    return lines.slice(1, -1);
  }
  return lines;
}

function parseEdits(path: string, lines: string[]): SearchReplace[] | string {
  const edits: SearchReplace[] = [];
  let index = 0;
  const body = unfence(lines);
  while (index < body.length) {
    const line = body[index];
    if (line.trim() === '') {
      index += 1;
      continue;
    }
    if (!SEARCH.test(line)) {
      return `the <edit path="${path}"> block has text outside its SEARCH/REPLACE blocks: "${line.trim().slice(0, 80)}"`;
    }
    const search: string[] = [];
    const replace: string[] = [];
    index += 1;
    while (index < body.length && !DIVIDER.test(body[index])) search.push(body[(index += 1) - 1]);
    if (index >= body.length)
      return `SEARCH block ${edits.length + 1} of <edit path="${path}"> has no =======`;
    index += 1;
    while (index < body.length && !REPLACE.test(body[index])) replace.push(body[(index += 1) - 1]);
    if (index >= body.length) {
      return `SEARCH block ${edits.length + 1} of <edit path="${path}"> has no >>>>>>> REPLACE`;
    }
    index += 1;
    edits.push({ search: joinLines(search), replace: joinLines(replace) });
  }
  if (edits.length === 0) return `the <edit path="${path}"> block has no SEARCH/REPLACE block`;
  return edits;
}

/**
 * Reads the file blocks of a model's answer (docs/code-generation.md#answer-format):
 * `<file path="…">` with the whole content, `<edit path="…">` with SEARCH/REPLACE blocks. Prose
 * around the blocks is ignored; a block that is not closed, has no path or is malformed makes the
 * whole answer refused.
 */
export function parseAnswer(text: string): ParsedAnswer {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  const blocks: AnswerBlock[] = [];
  let index = 0;
  while (index < lines.length) {
    const line = lines[index];
    const single = ONE_LINE.exec(line);
    if (single) {
      const path = pathOf(single[1]);
      if (!path) return { ok: false, error: `line ${index + 1}: <file> without a path attribute` };
      blocks.push({ type: 'file', path, content: single[2] });
      index += 1;
      continue;
    }
    const close = CLOSE.exec(line);
    if (close)
      return { ok: false, error: `line ${index + 1}: </${close[1]}> without its <${close[1]}>` };
    const open = OPEN.exec(line);
    if (!open) {
      index += 1;
      continue;
    }
    const tag = open[1] as 'file' | 'edit';
    const path = pathOf(open[2]);
    if (!path) return { ok: false, error: `line ${index + 1}: <${tag}> without a path attribute` };
    const start = index + 1;
    let end = start;
    while (end < lines.length && !CLOSE.test(lines[end])) {
      if (OPEN.test(lines[end]) || ONE_LINE.test(lines[end])) {
        return {
          ok: false,
          error: `the <${tag} path="${path}"> block is not closed before line ${end + 1}`,
        };
      }
      end += 1;
    }
    if (end >= lines.length) {
      return {
        ok: false,
        error: `the <${tag} path="${path}"> block is not closed (the answer may have been cut off)`,
      };
    }
    const closing = CLOSE.exec(lines[end]) as RegExpExecArray;
    if (closing[1] !== tag) {
      return {
        ok: false,
        error: `the <${tag} path="${path}"> block is closed by </${closing[1]}>`,
      };
    }
    const body = lines.slice(start, end);
    if (tag === 'file') {
      blocks.push({ type: 'file', path, content: joinLines(unfence(body)) });
    } else {
      const edits = parseEdits(path, body);
      if (typeof edits === 'string') return { ok: false, error: edits };
      blocks.push({ type: 'edit', path, edits });
    }
    index = end + 1;
  }
  return { ok: true, blocks };
}
