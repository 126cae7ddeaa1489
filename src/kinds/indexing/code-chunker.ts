import { readFile } from 'node:fs/promises';
import { dirname, extname, join } from 'node:path';
import { Language, Parser, type Node } from 'web-tree-sitter';

/** Bump when chunk boundaries or contents change: every file is chunked again on the next run. */
export const CHUNKER_VERSION = 2;

/** A chunk never spans more lines or characters than this. */
export const MAX_CHUNK_LINES = 120;
export const MAX_CHUNK_CHARS = 6000;
/** Files without a grammar are cut into windows of this many lines, overlapping by WINDOW_OVERLAP. */
export const WINDOW_LINES = 60;
export const WINDOW_OVERLAP = 10;

export interface Chunk {
  /** 1-based, inclusive. */
  startLine: number;
  endLine: number;
  symbol: string | null;
  content: string;
}

interface Grammar {
  wasm: string;
  /** Node types that are chunks of their own (functions, classes, methods …). */
  units: ReadonlySet<string>;
}

const JS_UNITS = [
  'function_declaration',
  'generator_function_declaration',
  'class_declaration',
  'class',
  'method_definition',
];
const TS_UNITS = [
  ...JS_UNITS,
  'abstract_class_declaration',
  'interface_declaration',
  'enum_declaration',
  'type_alias_declaration',
  'module',
  'internal_module',
];

const GRAMMARS: Record<string, Grammar> = {
  typescript: { wasm: 'typescript', units: new Set(TS_UNITS) },
  tsx: { wasm: 'tsx', units: new Set(TS_UNITS) },
  javascript: { wasm: 'javascript', units: new Set(JS_UNITS) },
  python: { wasm: 'python', units: new Set(['function_definition', 'class_definition']) },
  go: {
    wasm: 'go',
    units: new Set(['function_declaration', 'method_declaration', 'type_declaration']),
  },
  rust: {
    wasm: 'rust',
    units: new Set([
      'function_item',
      'impl_item',
      'struct_item',
      'enum_item',
      'trait_item',
      'mod_item',
    ]),
  },
  java: {
    wasm: 'java',
    units: new Set([
      'class_declaration',
      'interface_declaration',
      'enum_declaration',
      'record_declaration',
      'method_declaration',
      'constructor_declaration',
    ]),
  },
};

const LANGUAGE_BY_EXTENSION: Record<string, string> = {
  '.ts': 'typescript',
  '.mts': 'typescript',
  '.cts': 'typescript',
  '.tsx': 'tsx',
  '.js': 'javascript',
  '.mjs': 'javascript',
  '.cjs': 'javascript',
  '.jsx': 'javascript',
  '.py': 'python',
  '.go': 'go',
  '.rs': 'rust',
  '.java': 'java',
  '.c': 'c',
  '.h': 'c',
  '.cpp': 'cpp',
  '.cc': 'cpp',
  '.hpp': 'cpp',
  '.cs': 'csharp',
  '.rb': 'ruby',
  '.php': 'php',
  '.kt': 'kotlin',
  '.swift': 'swift',
  '.scala': 'scala',
  '.sh': 'shell',
  '.md': 'markdown',
  '.json': 'json',
  '.yaml': 'yaml',
  '.yml': 'yaml',
  '.toml': 'toml',
  '.sql': 'sql',
  '.css': 'css',
  '.html': 'html',
};

/** The language of a file by its extension, or null when unknown. */
export function languageOf(path: string): string | null {
  return LANGUAGE_BY_EXTENSION[extname(path).toLowerCase()] ?? null;
}

let runtime: Promise<void> | undefined;
const languages = new Map<string, Promise<Language>>();

function grammarDir(): string {
  return join(dirname(require.resolve('tree-sitter-wasms/package.json')), 'out');
}

/** tree-sitter's runtime, initialised once; its wasm is located explicitly (bundlers, Jest). */
function initRuntime(): Promise<void> {
  runtime ??= Parser.init({
    locateFile: (file: string) => join(dirname(require.resolve('web-tree-sitter')), file),
  });
  return runtime;
}

async function loadLanguage(name: string): Promise<Language> {
  await initRuntime();
  let language = languages.get(name);
  if (!language) {
    // Bytes, not a path: given a path it import()s fs, which Jest's CommonJS sandbox refuses.
    language = readFile(join(grammarDir(), `tree-sitter-${GRAMMARS[name].wasm}.wasm`)).then(
      (bytes) => Language.load(bytes),
    );
    languages.set(name, language);
  }
  return language;
}

interface Span {
  start: number;
  end: number;
  symbol: string | null;
  /** Lines between units (not a unit of its own). */
  gap?: boolean;
}

/** A gap this small (a class's header, a trailing export) joins the unit beside it. */
const SMALL_GAP_LINES = 3;
const SOURCE_MAP_LINE = /^\s*\/\/[#@]\s*source(?:Mapping)?URL=/;
const WORD = /[A-Za-z0-9_$]/;

/** Splits source into chunks: syntactic units where a grammar is known, line windows otherwise. */
export class CodeChunker {
  async chunk(path: string, source: string): Promise<Chunk[]> {
    const lines = source.split('\n');
    const language = languageOf(path);
    const grammar = language ? GRAMMARS[language] : undefined;
    if (!language || !grammar) return this.toChunks(lines, windows(lines));
    const loaded = await loadLanguage(language);
    const parser = new Parser();
    try {
      parser.setLanguage(loaded);
      const tree = parser.parse(source);
      if (!tree) return this.toChunks(lines, windows(lines));
      try {
        const spans = collectSpans(tree.rootNode, null, grammar, lines);
        return this.toChunks(lines, tidy(fillGaps(spans, 0, lines.length - 1, null, lines), lines));
      } finally {
        tree.delete();
      }
    } finally {
      parser.delete();
    }
  }

  private toChunks(lines: string[], spans: Span[]): Chunk[] {
    return spans
      .map((span) => ({
        startLine: span.start + 1,
        endLine: span.end + 1,
        symbol: span.symbol,
        content: lines
          .slice(span.start, span.end + 1)
          .join('\n')
          .slice(0, MAX_CHUNK_CHARS),
      }))
      .filter((chunk) => chunk.content.trim() !== '');
  }
}

function nameOf(node: Node): string | null {
  const name = node.childForFieldName('name') ?? node.childForFieldName('type');
  if (name) return name.text.slice(0, 200);
  if (node.type === 'type_declaration') {
    const spec = node.namedChildren.find((child) => child?.type === 'type_spec');
    return spec?.childForFieldName('name')?.text ?? null;
  }
  return null;
}

/** `const handler = () => …` / `let f = function …`: a function under a variable's name. */
function declaredFunctionName(node: Node): string | null {
  if (node.type !== 'lexical_declaration' && node.type !== 'variable_declaration') return null;
  for (const declarator of node.namedChildren) {
    const value = declarator?.childForFieldName('value');
    if (
      value &&
      ['arrow_function', 'function_expression', 'function', 'class'].includes(value.type)
    ) {
      return declarator?.childForFieldName('name')?.text ?? null;
    }
  }
  return null;
}

function spanSize(start: number, end: number, lines: string[]): { lines: number; chars: number } {
  let chars = 0;
  for (let i = start; i <= end; i++) chars += lines[i].length + 1;
  return { lines: end - start + 1, chars };
}

function fits(start: number, end: number, lines: string[]): boolean {
  const size = spanSize(start, end, lines);
  return size.lines <= MAX_CHUNK_LINES && size.chars <= MAX_CHUNK_CHARS;
}

/** Nodes that only wrap a unit (`export …`, decorators): its comments sit above them. */
const WRAPPERS = new Set(['export_statement', 'decorated_definition']);

/** The first line of a unit, moved up over the comments right above it (doc comments). */
function startWithComments(node: Node): number {
  let outer = node;
  while (outer.parent && WRAPPERS.has(outer.parent.type)) outer = outer.parent;
  let start = outer.startPosition.row;
  let previous = outer.previousNamedSibling;
  while (previous && previous.type === 'comment' && previous.endPosition.row >= start - 1) {
    start = previous.startPosition.row;
    previous = previous.previousNamedSibling;
  }
  return start;
}

function collectSpans(
  node: Node,
  container: string | null,
  grammar: Grammar,
  lines: string[],
): Span[] {
  const spans: Span[] = [];
  for (const child of node.namedChildren) {
    if (!child) continue;
    const isUnit = grammar.units.has(child.type);
    const name = isUnit ? nameOf(child) : declaredFunctionName(child);
    if (!isUnit && name === null) {
      if (child.namedChildCount > 0) spans.push(...collectSpans(child, container, grammar, lines));
      continue;
    }
    const symbol = name === null ? container : container ? `${container}.${name}` : name;
    const start = Math.max(startWithComments(child), spans.at(-1) ? spans.at(-1)!.end + 1 : 0);
    const end = child.endPosition.row;
    if (start > end) continue;
    if (fits(start, end, lines)) {
      spans.push({ start, end, symbol });
      continue;
    }
    // Too large: its inner units become chunks; the rest of it is cut into windows.
    const inner = collectSpans(child, symbol, grammar, lines).filter(
      (span) => span.start >= start && span.end <= end,
    );
    spans.push(...fillGaps(inner, start, end, symbol, lines));
  }
  return spans;
}

/** The spans given, plus windows over the lines between them (so every line is in a chunk). */
function fillGaps(
  spans: Span[],
  from: number,
  to: number,
  symbol: string | null,
  lines: string[],
): Span[] {
  const ordered = [...spans].sort((a, b) => a.start - b.start);
  const filled: Span[] = [];
  let next = from;
  for (const span of ordered) {
    if (span.start < next) continue;
    if (span.start > next) filled.push(...gapWindows(next, span.start - 1, symbol, lines));
    filled.push(span);
    next = span.end + 1;
  }
  if (next <= to) filled.push(...gapWindows(next, to, symbol, lines));
  return filled;
}

/** Lines between units: contiguous windows, cut where the size bound requires. */
function gapWindows(from: number, to: number, symbol: string | null, lines: string[]): Span[] {
  const spans: Span[] = [];
  let start = from;
  while (start <= to) {
    let end = start;
    let chars = lines[start].length + 1;
    while (
      end + 1 <= to &&
      end + 1 - start + 1 <= WINDOW_LINES &&
      chars + lines[end + 1].length + 1 <= MAX_CHUNK_CHARS
    ) {
      end++;
      chars += lines[end].length + 1;
    }
    spans.push({ start, end, symbol, gap: true });
    start = end + 1;
  }
  return spans.filter(
    (span) =>
      lines
        .slice(span.start, span.end + 1)
        .join('')
        .trim() !== '',
  );
}

/** Whether lines hold code or text of their own: not only braces or a source-map comment. */
function hasWords(lines: string[], start: number, end: number): boolean {
  for (let i = start; i <= end; i++) {
    if (!SOURCE_MAP_LINE.test(lines[i]) && WORD.test(lines[i])) return true;
  }
  return false;
}

/**
 * Spans as chunks should be: a gap of only braces or a source-map line is dropped (a closing
 * `}` would otherwise be a chunk carrying its class's name), and a small gap joins the unit right
 * after it when inside a split unit (a class's header goes with its first member) or the unit
 * right before it (a trailing export); a file's first lines (imports) stay a chunk of their own.
 */
function tidy(spans: Span[], lines: string[]): Span[] {
  const kept = spans.filter((span) => !span.gap || hasWords(lines, span.start, span.end));
  const out: Span[] = [];
  for (let i = 0; i < kept.length; i++) {
    const span = kept[i];
    if (!span.gap || span.end - span.start + 1 > SMALL_GAP_LINES) {
      out.push(span);
      continue;
    }
    const next = kept[i + 1];
    const inside = span.symbol !== null;
    if (
      inside &&
      next &&
      !next.gap &&
      next.start <= span.end + 1 &&
      fits(span.start, next.end, lines)
    ) {
      kept[i + 1] = { ...next, start: span.start };
      continue;
    }
    const previous = out.at(-1);
    if (previous && previous.end >= span.start - 2 && fits(previous.start, span.end, lines)) {
      out[out.length - 1] = { ...previous, end: span.end };
      continue;
    }
    out.push(span);
  }
  return out;
}

/** Overlapping line windows, for files no grammar covers; bounded in lines and characters. */
function windows(lines: string[]): Span[] {
  const spans: Span[] = [];
  let start = 0;
  while (start < lines.length) {
    let end = start;
    let chars = lines[start].length + 1;
    while (
      end + 1 < lines.length &&
      end + 1 - start + 1 <= WINDOW_LINES &&
      chars + lines[end + 1].length + 1 <= MAX_CHUNK_CHARS
    ) {
      end++;
      chars += lines[end].length + 1;
    }
    spans.push({ start, end, symbol: null });
    if (end >= lines.length - 1) break;
    start = Math.max(start + 1, end + 1 - WINDOW_OVERLAP);
  }
  return spans;
}
