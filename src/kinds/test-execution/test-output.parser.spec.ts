import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestCountCollector, type TestCounts } from './test-output.parser';

/** Feeds the output as it would stream: in chunks of the given size, cutting lines anywhere. */
function countsOf(output: string, chunkSize = output.length || 1): TestCounts {
  const collector = new TestCountCollector();
  for (let i = 0; i < output.length; i += chunkSize) collector.push(output.slice(i, i + chunkSize));
  return collector.result();
}

function expectCounts(output: string, counts: TestCounts): void {
  expect(countsOf(output)).toEqual(counts);
  for (const size of [1, 7, 64]) expect(countsOf(output, size)).toEqual(counts);
}

const NULLS: TestCounts = { passed: null, failed: null, skipped: null };

describe('TestCountCollector', () => {
  describe("node's test runner, run for real", () => {
    let dir: string;

    function nodeTest(file: string, reporter: 'tap' | 'spec', color = false): string {
      const run = spawnSync(
        process.execPath,
        ['--test', `--test-reporter=${reporter}`, join(dir, file)],
        {
          cwd: dir,
          encoding: 'utf8',
          timeout: 60_000,
          env: {
            PATH: process.env.PATH ?? '/usr/bin:/bin',
            ...(color ? { FORCE_COLOR: '1' } : { NO_COLOR: '1' }),
          },
        },
      );
      return run.stdout + run.stderr;
    }

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'conveyor-parser-'));
      writeFileSync(
        join(dir, 'math.test.js'),
        [
          "const { test, describe } = require('node:test');",
          "const assert = require('node:assert');",
          "test('adds', () => assert.strictEqual(1 + 1, 2));",
          "test('subtracts', () => assert.strictEqual(2 - 1, 1));",
          "describe('products', () => {",
          "  test('multiplies', () => assert.strictEqual(2 * 3, 6));",
          "  test('divides', () => assert.strictEqual(6 / 2, 4));",
          '});',
          "test('powers', { skip: 'not yet' }, () => {});",
          "test('modulo', { todo: true }, () => {});",
          "test('prints # pass 99 on its own', () => console.log('# pass 99'));",
          '',
        ].join('\n'),
      );
      writeFileSync(
        join(dir, 'green.test.js'),
        "const { test } = require('node:test');\nfor (let i = 0; i < 4; i++) test(`t${i}`, () => {});\n",
      );
      writeFileSync(
        join(dir, 'slow.test.js'),
        [
          "const { test } = require('node:test');",
          "test('quick', () => {});",
          "test('too slow', { timeout: 100 }, () => new Promise((r) => setTimeout(r, 3000).unref()));",
          '',
        ].join('\n'),
      );
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it.each(['tap', 'spec'] as const)(
      'counts pass, fail, skip and todo (%s reporter)',
      (reporter) => {
        const output = nodeTest('math.test.js', reporter);
        expect(output).toMatch(reporter === 'tap' ? /^# pass 4$/m : /^ℹ pass 4$/m);
        expectCounts(output, { passed: 4, failed: 1, skipped: 2 });
      },
    );

    it('reads the spec reporter in colour', () => {
      const output = nodeTest('math.test.js', 'spec', true);
      expect(output).toContain('\x1b[');
      expect(countsOf(output)).toEqual({ passed: 4, failed: 1, skipped: 2 });
    });

    it.each(['tap', 'spec'] as const)('counts an all-green run (%s reporter)', (reporter) => {
      expectCounts(nodeTest('green.test.js', reporter), { passed: 4, failed: 0, skipped: 0 });
    });

    it.each(['tap', 'spec'] as const)(
      'counts a test cancelled by its timeout as failed (%s reporter)',
      (reporter) => {
        const output = nodeTest('slow.test.js', reporter);
        // node reports it as "not ok" and exits 1, but under "cancelled", not "fail".
        expect(output).toMatch(/cancelled 1$/m);
        expectCounts(output, { passed: 1, failed: 1, skipped: 0 });
      },
    );
  });

  it('reads Jest\'s summary (captured from "jest --ci", Jest 29)', () => {
    const output = [
      'FAIL ./math.test.js',
      '  math',
      '    ✓ adds (2 ms)',
      '    ✓ subtracts',
      '    ✓ multiplies',
      '    ✕ divides (2 ms)',
      '    ○ skipped powers',
      '    ✎ todo modulo',
      '',
      '  ● math › divides',
      '',
      '    expect(received).toBe(expected) // Object.is equality',
      '',
      '    Expected: 4',
      '    Received: 3',
      '',
      '      at Object.toBe (math.test.js:5:39)',
      '',
      'Test Suites: 1 failed, 1 total',
      'Tests:       1 failed, 1 skipped, 1 todo, 3 passed, 6 total',
      'Snapshots:   0 total',
      'Time:        3.951 s',
      'Ran all test suites.',
      '',
    ].join('\n');
    expectCounts(output, { passed: 3, failed: 1, skipped: 2 });
    expectCounts(
      'PASS ./a.test.js\nTest Suites: 1 passed, 1 total\nTests:       12 passed, 12 total\n',
      { passed: 12, failed: 0, skipped: 0 },
    );
  });

  it("reads Jest's summary in colour", () => {
    const output =
      '\x1b[1mTest Suites: \x1b[22m\x1b[1m\x1b[31m1 failed\x1b[39m\x1b[22m, 1 total\n' +
      '\x1b[1mTests:       \x1b[22m\x1b[1m\x1b[31m1 failed\x1b[39m\x1b[22m, \x1b[1m\x1b[33m1 skipped' +
      '\x1b[39m\x1b[22m, \x1b[1m\x1b[35m1 todo\x1b[39m\x1b[22m, \x1b[1m\x1b[32m3 passed\x1b[39m' +
      '\x1b[22m, 6 total\n' +
      '\x1b[1mSnapshots:   \x1b[22m0 total\n';
    expectCounts(output, { passed: 3, failed: 1, skipped: 2 });
  });

  it("reads Vitest's summary (captured text, Vitest 1.x)", () => {
    const output = [
      '',
      ' RUN  v1.6.0 /home/dev/calc',
      '',
      ' ❯ src/math.test.ts  (5 tests | 1 failed | 1 skipped) 6ms',
      '   ❯ src/math.test.ts > math > divides',
      '     → expected 3 to be 4 // Object.is equality',
      ' ✓ src/strings.test.ts  (2 tests) 2ms',
      '',
      '⎯⎯⎯⎯⎯⎯⎯ Failed Tests 1 ⎯⎯⎯⎯⎯⎯⎯',
      '',
      ' FAIL  src/math.test.ts > math > divides',
      'AssertionError: expected 3 to be 4 // Object.is equality',
      '',
      '⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯[1/1]⎯',
      '',
      ' Test Files  1 failed | 1 passed (2)',
      '      Tests  1 failed | 5 passed | 1 skipped (7)',
      '   Start at  10:12:41',
      '   Duration  412ms (transform 52ms, setup 0ms, collect 61ms, tests 8ms, environment 0ms, prepare 139ms)',
      '',
    ].join('\n');
    expectCounts(output, { passed: 5, failed: 1, skipped: 1 });
    expectCounts(
      ' Test Files  2 passed (2)\n      Tests  9 passed | 2 todo (11)\n   Start at  10:12:41\n',
      { passed: 9, failed: 0, skipped: 2 },
    );
  });

  it("reads pytest's summary (captured from pytest 9)", () => {
    const output = [
      '============================= test session starts ==============================',
      'platform linux -- Python 3.11.7, pytest-9.0.3, pluggy-1.6.0',
      'rootdir: /tmp/cap/py',
      'collected 6 items',
      '',
      'test_math.py ...Fsx                                                      [100%]',
      '',
      '=================================== FAILURES ===================================',
      '___________________________________ test_div ___________________________________',
      '',
      '    def test_div():',
      '>       assert 6 / 2 == 4',
      'E       assert (6 / 2) == 4',
      '',
      'test_math.py:13: AssertionError',
      '=========================== short test summary info ============================',
      'FAILED test_math.py::test_div - assert (6 / 2) == 4',
      '============== 1 failed, 3 passed, 1 skipped, 1 xfailed in 1.32s ===============',
      '',
    ].join('\n');
    expectCounts(output, { passed: 3, failed: 1, skipped: 2 });
    expectCounts(
      '============================== 4 passed in 0.02s ===============================\n',
      {
        passed: 4,
        failed: 0,
        skipped: 0,
      },
    );
    // Collection errors and long runs ("in 75.40s (0:01:15)").
    expectCounts(
      '==================== 2 passed, 1 warning, 2 errors in 75.40s (0:01:15) =====================\n',
      { passed: 2, failed: 2, skipped: 0 },
    );
  });

  it('counts the per-test lines of go test -v, subtests included', () => {
    const output = [
      '=== RUN   TestAdd',
      '--- PASS: TestAdd (0.00s)',
      '=== RUN   TestDivide',
      '    math_test.go:14: got 3, want 4',
      '--- FAIL: TestDivide (0.00s)',
      '=== RUN   TestTable',
      '=== RUN   TestTable/zero',
      '=== RUN   TestTable/negative',
      '    math_test.go:30: skipping: not implemented',
      '--- PASS: TestTable (0.00s)',
      '    --- PASS: TestTable/zero (0.00s)',
      '    --- SKIP: TestTable/negative (0.00s)',
      '=== RUN   TestPow',
      '    math_test.go:40: needs network',
      '--- SKIP: TestPow (0.00s)',
      'FAIL',
      'exit status 1',
      'FAIL\texample.com/calc\t0.004s',
      '',
    ].join('\n');
    expectCounts(output, { passed: 3, failed: 1, skipped: 2 });
  });

  it('lets the last summary win when several runners print one', () => {
    const jest = 'Tests:       2 failed, 8 passed, 10 total\n';
    const pytest = '=========== 5 passed in 0.10s ===========\n';
    expectCounts(jest + pytest, { passed: 5, failed: 0, skipped: 0 });
    expectCounts(pytest + jest, { passed: 8, failed: 2, skipped: 0 });
  });

  it('reads a summary on a last line without a newline and with CRLF line ends', () => {
    expectCounts('Tests:       3 passed, 3 total', { passed: 3, failed: 0, skipped: 0 });
    expectCounts('# tests 2\r\n# pass 1\r\n# fail 1\r\n', { passed: 1, failed: 1, skipped: 0 });
  });

  it.each([
    ['nothing at all', ''],
    ['plain output', 'hello\nworld\n'],
    ['go test without -v', 'ok  \texample.com/calc\t0.003s\n'],
    [
      'cargo test (not one of the parsed runners)',
      'running 3 tests\ntest tests::adds ... ok\n\ntest result: ok. 3 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s\n',
    ],
    ['mocha', '  3 passing (12ms)\n  1 failing\n'],
    [
      'a crash before any test ran',
      "Error: Cannot find module 'jest'\n    at Module._resolveFilename\n",
    ],
    ['Jest suites line only', 'Test Suites: 1 failed, 1 total\n'],
  ])('answers nulls for unrecognised output: %s', (_label, output) => {
    expectCounts(output, NULLS);
  });
});
