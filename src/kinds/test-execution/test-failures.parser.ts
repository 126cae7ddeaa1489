/**
 * Reads the failing tests out of a test run, for the result's `failures` (docs/test-execution.md,
 * "Failures"): what a fix prompt is built from, so each one carries the name a person knows the
 * test by and the assertion's own words.
 */

/** One failing test of a test-execution result. */
export type TestFailure = {
  /** The test's name as its runner shows it, with its suites ("math > divides"). */
  name: string;
  /** The test file, as the runner names it (workspace-relative where the runner says so). */
  file?: string;
  /** The assertion and the first lines of its stack, at most MAX_FAILURE_MESSAGE_BYTES. */
  message: string;
};

export const MAX_FAILURES = 50;
export const MAX_FAILURE_MESSAGE_BYTES = 2048;
const MAX_NAME_CHARS = 1000;
const MAX_MESSAGE_LINES = 40;
const STACK_LINES = 5;

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;

/** Cuts text to at most `bytes` UTF-8 bytes, never inside a character. */
function clipBytes(text: string, bytes: number): string {
  if (Buffer.byteLength(text) <= bytes) return text;
  let out = '';
  let used = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char);
    if (used + size > bytes - 3) break;
    out += char;
    used += size;
  }
  return `${out}…`;
}

function boundMessage(lines: readonly string[]): string {
  const text = lines
    .slice(0, MAX_MESSAGE_LINES)
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
  return clipBytes(text, MAX_FAILURE_MESSAGE_BYTES);
}

function failure(name: string, file: string | undefined, lines: readonly string[]): TestFailure {
  const clipped = name.length > MAX_NAME_CHARS ? `${name.slice(0, MAX_NAME_CHARS)}…` : name;
  return { name: clipped, ...(file && { file }), message: boundMessage(lines) };
}

/** Removes the smallest indentation shared by the non-blank lines. */
function dedent(lines: readonly string[]): string[] {
  const indents = lines.filter((l) => l.trim() !== '').map((l) => /^\s*/.exec(l)![0].length);
  const cut = indents.length > 0 ? Math.min(...indents) : 0;
  return lines.map((line) => line.slice(cut));
}

const indentOf = (line: string) => /^\s*/.exec(line)![0].length;

interface TestBlock {
  name: string;
  file?: string;
  lines: string[];
  /** The header's indentation: deeper lines belong to the block. */
  indent: number;
}

/** One runner's reader: a failure is a block of lines opened by a header, emitted at its end. */
abstract class BlockParser<Block> {
  protected open: Block | null = null;

  abstract line(line: string): void;

  finish(): void {
    this.close();
  }

  protected close(): void {
    const open = this.open;
    this.open = null;
    if (open) this.emit(open);
  }

  protected abstract emit(block: Block): void;
}

type Sink = (found: TestFailure) => void;

interface TapBlock {
  name: string;
  indent: number;
  /** The YAML diagnostics between `---` and `...`; null until `---` is seen. */
  yaml: string[] | null;
}

/** node --test, TAP reporter (node 20's default when the output is not a terminal). */
class NodeTapParser extends BlockParser<TapBlock> {
  private suites: { indent: number; name: string }[] = [];

  constructor(
    private readonly sink: Sink,
    private readonly workspace: string | null,
  ) {
    super();
  }

  line(line: string): void {
    const open = this.open;
    if (open) {
      const inner = ' '.repeat(open.indent + 2);
      if (open.yaml === null) {
        if (line === `${inner}---`) {
          open.yaml = [];
          return;
        }
        this.close();
      } else if (line === `${inner}...`) {
        this.close();
        return;
      } else {
        if (open.yaml.length < 400) open.yaml.push(line.slice(inner.length));
        return;
      }
    }
    let match = /^(\s*)# Subtest: (.+)$/.exec(line);
    if (match) {
      const indent = match[1].length;
      this.suites = this.suites.filter((suite) => suite.indent < indent);
      this.suites.push({ indent, name: unescapeTap(match[2]) });
      return;
    }
    match = /^(\s*)not ok \d+ - (.*?)(?: # (?:SKIP|TODO)\b.*)?$/.exec(line);
    if (match) {
      const indent = match[1].length;
      const path = this.suites.filter((suite) => suite.indent < indent).map((s) => s.name);
      this.open = { indent, name: [...path, unescapeTap(match[2])].join(' > '), yaml: null };
    }
  }

  protected emit(open: NonNullable<typeof this.open>): void {
    const fields = readTapYaml(open.yaml ?? []);
    // A suite fails because a test in it failed: that test is the failure, not the suite.
    if (fields.failureType === 'subtestsFailed') return;
    let file = fields.location?.replace(/:\d+:\d+$/, '');
    if (file && this.workspace && file.startsWith(`${this.workspace}/`)) {
      file = file.slice(this.workspace.length + 1);
    }
    const stack = (fields.stack ?? '')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .slice(0, STACK_LINES)
      .map((l) => `    at ${l.trim()}`);
    const lines = [...(fields.error ?? fields.failureType ?? 'failed').split('\n'), ...stack];
    this.sink(failure(open.name, file, lines));
  }
}

function unescapeTap(text: string): string {
  return text.replace(/\\([#\\])/g, '$1');
}

/** The few YAML shapes node's TAP reporter writes: `key: 'quoted'`, `key: plain`, `key: |-` blocks. */
function readTapYaml(lines: readonly string[]): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (let i = 0; i < lines.length; i++) {
    const match = /^([\w]+): ?(.*)$/.exec(lines[i]);
    if (!match) continue;
    const [, key, value] = match;
    if (value === '|-' || value === '|' || value === '>-') {
      const body: string[] = [];
      while (i + 1 < lines.length && (lines[i + 1].startsWith('  ') || lines[i + 1] === '')) {
        body.push(lines[++i].slice(2));
      }
      out[key] = body.join('\n').trimEnd();
    } else if (value.startsWith("'") && value.endsWith("'") && value.length >= 2) {
      out[key] = value.slice(1, -1).replace(/''/g, "'");
    } else if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) {
      out[key] = value.slice(1, -1).replace(/\\n/g, '\n').replace(/\\"/g, '"');
    } else if (value !== '') out[key] = value;
  }
  return out;
}

/**
 * node --test, spec reporter: `✖ name (1.2ms)` followed by the error, indented deeper; the
 * closing "failing tests" list repeats them with their file, and is preferred when present.
 */
class NodeSpecParser extends BlockParser<TestBlock> {
  private file: string | undefined;
  private inSummary = false;
  private readonly tree: TestFailure[] = [];
  private readonly summary: TestFailure[] = [];

  constructor(private readonly sink: Sink) {
    super();
  }

  line(line: string): void {
    const test = /^(\s*)[✖✔﹣▶] (.+?) \([\d.]+m?s\)(?: #.*)?$/.exec(line);
    const open = this.open;
    if (open && !test && (line.trim() === '' || indentOf(line) > open.indent)) {
      if (open.lines.length < MAX_MESSAGE_LINES * 2) open.lines.push(line);
      return;
    }
    this.close();
    if (line === '✖ failing tests:') {
      this.inSummary = true;
      return;
    }
    const at = /^test at (.+?):\d+:\d+$/.exec(line);
    if (at) {
      this.file = at[1];
      return;
    }
    if (test && line.trimStart().startsWith('✖')) {
      this.open = { indent: test[1].length, name: test[2], file: this.file, lines: [] };
    }
    if (test) this.file = undefined;
  }

  override finish(): void {
    super.finish();
    for (const found of this.summary.length > 0 ? this.summary : this.tree) this.sink(found);
  }

  protected emit(open: NonNullable<typeof this.open>): void {
    // No error under it: a suite whose failure is one of its tests.
    if (open.lines.every((line) => line.trim() === '')) return;
    const lines = dedent(open.lines);
    const firstAt = lines.findIndex((line) => /^\s+at /.test(line));
    const kept = firstAt === -1 ? lines : lines.slice(0, firstAt + STACK_LINES);
    (this.inSummary ? this.summary : this.tree).push(failure(open.name, open.file, kept));
  }
}

/** Jest: `FAIL path` then one `● suite › test` block per failure. */
class JestParser extends BlockParser<TestBlock> {
  private file: string | undefined;

  constructor(private readonly sink: Sink) {
    super();
  }

  line(line: string): void {
    const header = /^ {2}● (.+)$/.exec(line);
    if (header) {
      this.close();
      if (header[1] !== 'Console')
        this.open = { name: header[1], file: this.file, lines: [], indent: 2 };
      return;
    }
    if (/^\S/.test(line)) {
      this.close();
      const suite = /^(?:FAIL|PASS)\s+(?:.+\s)?(\S+?)(?: \([\d.]+ m?s\))?$/.exec(line);
      if (suite) this.file = suite[1].replace(/^\.\//, '');
      return;
    }
    if (this.open && this.open.lines.length < MAX_MESSAGE_LINES * 3) this.open.lines.push(line);
  }

  protected emit(open: NonNullable<typeof this.open>): void {
    // Leave the code frame out: the assertion and the stack say where.
    const lines = dedent(open.lines).filter((line) => !/^\s*(?:>\s*)?\d*\s+\|/.test(line));
    const firstAt = lines.findIndex((line) => /^\s*at /.test(line));
    const kept = firstAt === -1 ? lines : lines.slice(0, firstAt + STACK_LINES);
    this.sink(failure(open.name, open.file, kept));
  }
}

/** Vitest's default reporter: `FAIL  file > suite > test` then the error, up to a ⎯ rule. */
class VitestParser extends BlockParser<TestBlock> {
  constructor(private readonly sink: Sink) {
    super();
  }

  line(line: string): void {
    const header = /^\s*FAIL\s+(\S+) > (.+)$/.exec(line);
    if (header) {
      this.close();
      this.open = { file: header[1], name: header[2], lines: [], indent: 0 };
      return;
    }
    if (!this.open) return;
    if (/^\s*⎯/.test(line) || /^\s*(?:Test Files|Tests)\s/.test(line)) {
      this.close();
      return;
    }
    if (this.open.lines.length < MAX_MESSAGE_LINES * 3) this.open.lines.push(line);
  }

  protected emit(open: NonNullable<typeof this.open>): void {
    const lines = open.lines.filter((line) => !/^\s*\d*\s*\|/.test(line));
    this.sink(failure(open.name, open.file, lines));
  }
}

/** pytest: the FAILURES and ERRORS sections (`____ name ____` blocks), else its short summary. */
class PytestParser extends BlockParser<TestBlock & { raw: string[] }> {
  private section = false;
  private fromBlocks = new Set<string>();
  private summary: TestFailure[] = [];

  constructor(private readonly sink: Sink) {
    super();
  }

  line(line: string): void {
    const rule = /^=+ (.+?) =+$/.exec(line);
    if (rule) {
      this.close();
      this.section = rule[1] === 'FAILURES' || rule[1] === 'ERRORS';
      return;
    }
    const summary = /^(?:FAILED|ERROR) (\S+?)(?: - (.*))?$/.exec(line);
    if (summary && !this.section) {
      const [path, ...ids] = summary[1].split('::');
      const name = ids.length > 0 ? ids.join('.') : path;
      this.summary.push(failure(name, path, [summary[2] ?? 'failed']));
      return;
    }
    if (!this.section) return;
    const block = /^_{3,} (.+?) _{3,}$/.exec(line);
    if (block) {
      this.close();
      this.open = { name: block[1], lines: [], raw: [], indent: 0 };
      return;
    }
    const open = this.open;
    if (!open) return;
    const assertion = /^E {1,7}(.*)$/.exec(line);
    if (assertion && open.lines.length < MAX_MESSAGE_LINES) open.lines.push(assertion[1]);
    else if (line.trim() !== '' && open.raw.length < MAX_MESSAGE_LINES) open.raw.push(line);
    const where = /^(\S+\.py):(\d+): \S/.exec(line);
    if (where) {
      open.file ??= where[1];
      open.lines.push(line);
    }
  }

  override finish(): void {
    super.finish();
    for (const found of this.summary) if (!this.fromBlocks.has(found.name)) this.sink(found);
  }

  protected emit(open: NonNullable<typeof this.open>): void {
    this.fromBlocks.add(open.name);
    const assertions = open.lines.some((line) => !/^\S+\.py:\d+: /.test(line));
    this.sink(failure(open.name, open.file, assertions ? open.lines : open.raw.slice(-10)));
  }
}

/** go test, with or without -v: `--- FAIL: TestName` and the t.Error lines of that test. */
class GoTestParser extends BlockParser<TestBlock> {
  /** With -v a test's log comes before its verdict: kept per running test until then. */
  private logs = new Map<string, string[]>();
  private running: string | null = null;
  private found: { name: string; lines: string[] }[] = [];

  constructor(private readonly sink: Sink) {
    super();
  }

  line(line: string): void {
    const verdict = /^(\s*)--- (FAIL|PASS|SKIP): (\S+) \(/.exec(line);
    if (verdict) {
      this.close();
      const [, indent, outcome, name] = verdict;
      const logged = this.logs.get(name) ?? [];
      this.logs.delete(name);
      if (outcome === 'FAIL') this.open = { indent: indent.length, name, lines: logged };
      return;
    }
    const run = /^=== (?:RUN|CONT|NAME)\s+(\S+)$/.exec(line);
    if (run) {
      this.close();
      this.running = run[1];
      return;
    }
    if (this.open) {
      if ((indentOf(line) > this.open.indent && line.trim() !== '') || /^panic: /.test(line)) {
        if (this.open.lines.length < MAX_MESSAGE_LINES) this.open.lines.push(line);
        return;
      }
      this.close();
    }
    if (/^(?:FAIL|ok|PASS)\b/.test(line)) {
      this.running = null;
      return;
    }
    if (this.running !== null && /^\s+\S/.test(line)) {
      const logged = this.logs.get(this.running) ?? [];
      if (logged.length < MAX_MESSAGE_LINES) logged.push(line);
      this.logs.set(this.running, logged);
    }
  }

  override finish(): void {
    super.finish();
    for (const { name, lines } of this.found) {
      // A parent fails when one of its subtests does: the subtest is the failure.
      const parentOnly =
        lines.length === 0 && this.found.some((other) => other.name.startsWith(`${name}/`));
      if (parentOnly) continue;
      const file = lines.map((line) => /^\s*(\S+\.go):\d+: /.exec(line)?.[1]).find(Boolean);
      this.sink(failure(name, file, lines.length > 0 ? dedent(lines) : ['failed']));
    }
  }

  protected emit(open: NonNullable<typeof this.open>): void {
    this.found.push({ name: open.name, lines: open.lines });
  }
}

/**
 * Collects the failing tests from a run's output as it streams, for every runner at once (a
 * script may run more than one); the first MAX_FAILURES distinct ones are kept.
 */
export class TestFailureCollector {
  private readonly failures: TestFailure[] = [];
  private readonly seen = new Set<string>();
  private readonly parsers: BlockParser<unknown>[];
  private partial = '';

  /** `workspace`: file paths the runner prints in full are made relative to it. */
  constructor(workspace: string | null = null) {
    const sink: Sink = (found) => this.add(found);
    this.parsers = [
      new NodeTapParser(sink, workspace),
      new NodeSpecParser(sink),
      new JestParser(sink),
      new VitestParser(sink),
      new PytestParser(sink),
      new GoTestParser(sink),
    ];
  }

  push(text: string): void {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) this.line(line);
  }

  result(): TestFailure[] {
    if (this.partial) this.line(this.partial);
    this.partial = '';
    for (const parser of this.parsers) parser.finish();
    return [...this.failures];
  }

  private line(raw: string): void {
    const line = raw.replace(ANSI, '').replace(/\r$/, '').trimEnd();
    for (const parser of this.parsers) parser.line(line);
  }

  private add(found: TestFailure): void {
    // Jest and node's spec reporter repeat every failure in a closing summary.
    const key = `${found.file ?? ''}\n${found.name}`;
    if (this.seen.has(key) || this.failures.length >= MAX_FAILURES) return;
    this.seen.add(key);
    this.failures.push(found);
  }
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeXml(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|\w+);/g, (whole, entity: string) => {
    if (entity.startsWith('#x')) return String.fromCodePoint(parseInt(entity.slice(2), 16));
    if (entity.startsWith('#')) return String.fromCodePoint(Number(entity.slice(1)));
    return ENTITIES[entity] ?? whole;
  });
}

function attributes(source: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const match of source.matchAll(/([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
    out[match[1]] = decodeXml(match[2] ?? match[3] ?? '');
  }
  return out;
}

/**
 * The failing test cases of a JUnit XML report (`<testcase>` with a `<failure>` or `<error>`),
 * as written by node --test-reporter=junit, jest-junit, pytest --junitxml, go-junit-report…
 */
export function parseJunitReport(xml: string): TestFailure[] {
  const failures: TestFailure[] = [];
  const tokens =
    /<!\[CDATA\[([\s\S]*?)\]\]>|<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<(\/?)([\w:.-]+)([^>]*?)(\/?)>|([^<]+)/g;
  let testcase: { name: string; file?: string } | null = null;
  let problem: { message: string; text: string } | null = null;
  let problems: { message: string; text: string }[] = [];
  for (const token of xml.matchAll(tokens)) {
    const [, cdata, closing, tag, attrs, selfClosing, text] = token;
    if (cdata !== undefined || text !== undefined) {
      if (problem) problem.text += cdata ?? decodeXml(text ?? '');
      continue;
    }
    if (tag === undefined) continue;
    if (tag === 'testcase') {
      if (!closing) {
        const attr = attributes(attrs);
        testcase = { name: attr.name ?? attr.classname ?? 'unnamed test', file: attr.file };
        problems = [];
      }
      if (closing || selfClosing) {
        if (testcase && problems.length > 0) {
          const lines = problems.flatMap(({ message, text: body }) => {
            const trimmed = body.trim();
            const squeeze = (text: string) => text.replace(/\s+/g, '');
            // node's reporter writes the text's error again without its newlines: leave it out.
            const mangled =
              !trimmed.includes(message) && squeeze(trimmed).includes(squeeze(message));
            if (trimmed.startsWith(message.trim()) || mangled) return [trimmed];
            return [message, trimmed].filter((part) => part.trim() !== '');
          });
          failures.push(failure(testcase.name, testcase.file, lines.join('\n').split('\n')));
        }
        testcase = null;
      }
    } else if ((tag === 'failure' || tag === 'error') && testcase) {
      if (!closing) {
        const attr = attributes(attrs);
        problem = { message: attr.message ?? attr.type ?? tag, text: '' };
        problems.push(problem);
      }
      if (closing || selfClosing) problem = null;
    }
    if (failures.length >= MAX_FAILURES) break;
  }
  return failures;
}
