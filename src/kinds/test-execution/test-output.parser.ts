export interface TestCounts {
  passed: number | null;
  failed: number | null;
  skipped: number | null;
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;

function count(text: string, word: RegExp): number {
  const match = word.exec(text);
  return match ? Number(match[1]) : 0;
}

/**
 * Reads pass/fail/skip counts from the output of node's test runner (tap and spec reporters),
 * Jest, Vitest, pytest and go test, line by line as the output streams. The last summary seen
 * wins; go test's per-test lines are counted.
 */
export class TestCountCollector {
  private summary: TestCounts | null = null;
  private go = { passed: 0, failed: 0, skipped: 0, seen: false };
  private node: Partial<Record<'pass' | 'fail' | 'cancelled' | 'skipped' | 'todo', number>> = {};
  private partial = '';

  push(text: string): void {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) this.line(line);
  }

  result(): TestCounts {
    if (this.partial) this.line(this.partial);
    this.partial = '';
    if (this.summary) return this.summary;
    if (this.node.pass !== undefined || this.node.fail !== undefined) {
      return {
        passed: this.node.pass ?? 0,
        // A test cancelled (by its timeout, or its file ending early) is "not ok": it failed.
        failed: (this.node.fail ?? 0) + (this.node.cancelled ?? 0),
        skipped: (this.node.skipped ?? 0) + (this.node.todo ?? 0),
      };
    }
    if (this.go.seen) {
      return { passed: this.go.passed, failed: this.go.failed, skipped: this.go.skipped };
    }
    return { passed: null, failed: null, skipped: null };
  }

  private line(raw: string): void {
    const line = raw.replace(ANSI, '').trimEnd();
    let match: RegExpExecArray | null;
    // Jest: "Tests:       1 failed, 1 skipped, 3 passed, 5 total"
    // Vitest: "Tests  1 failed | 3 passed | 1 skipped (5)"
    const trimmed = line.trim();
    if (
      (match = /^Tests:\s+(.*\d+ total)$/.exec(trimmed) ?? /^Tests\s+(.+)\(\d+\)$/.exec(trimmed))
    ) {
      const body = match[1];
      this.summary = {
        passed: count(body, /(\d+) passed/),
        failed: count(body, /(\d+) failed/),
        skipped: count(body, /(\d+) skipped/) + count(body, /(\d+) todo/),
      };
      return;
    }
    // pytest: "==== 1 failed, 3 passed, 1 skipped in 0.12s ===="
    if (
      (match = /^=+ (.*\d+ (?:passed|failed|skipped|error|errors).*) in [\d.]+s.* =+$/.exec(line))
    ) {
      const body = match[1];
      this.summary = {
        passed: count(body, /(\d+) passed/),
        failed: count(body, /(\d+) failed/) + count(body, /(\d+) errors?/),
        skipped: count(body, /(\d+) skipped/) + count(body, /(\d+) xfailed/),
      };
      return;
    }
    // node --test: "# pass 3" (tap) or "ℹ pass 3" (spec)
    if ((match = /^(?:#|ℹ) (pass|fail|cancelled|skipped|todo) (\d+)$/.exec(line))) {
      this.node[match[1] as 'pass'] = Number(match[2]);
      return;
    }
    // go test -v: "--- PASS: TestName (0.00s)", also nested with leading spaces
    if ((match = /^\s*--- (PASS|FAIL|SKIP): /.exec(line))) {
      this.go.seen = true;
      if (match[1] === 'PASS') this.go.passed += 1;
      else if (match[1] === 'FAIL') this.go.failed += 1;
      else this.go.skipped += 1;
    }
  }
}
