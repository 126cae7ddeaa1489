import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  MAX_FAILURE_MESSAGE_BYTES,
  MAX_FAILURES,
  parseJunitReport,
  TestFailureCollector,
  type TestFailure,
} from './test-failures.parser';

const FIXTURES = join(__dirname, 'fixtures');
const JEST = resolve(__dirname, '../../../node_modules/.bin/jest');

/** Feeds the output as it would stream, in chunks that cut lines anywhere; all must agree. */
function failuresOf(output: string, workspace: string | null = null): TestFailure[] {
  const whole = new TestFailureCollector(workspace);
  whole.push(output);
  const expected = whole.result();
  for (const size of [1, 7, 64]) {
    const collector = new TestFailureCollector(workspace);
    for (let i = 0; i < output.length; i += size) collector.push(output.slice(i, i + size));
    expect(collector.result()).toEqual(expected);
  }
  return expected;
}

function run(argv: string[], cwd: string): string {
  const [command, ...args] = argv;
  const result = spawnSync(command, args, {
    cwd,
    encoding: 'utf8',
    timeout: 120_000,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', CI: 'true', NO_COLOR: '1', HOME: cwd },
  });
  return result.stdout + result.stderr;
}

function has(command: string): boolean {
  return spawnSync(command, ['--version'], { encoding: 'utf8' }).status === 0;
}

const NODE_TESTS = `const { test, describe } = require('node:test');
const assert = require('node:assert');
describe('math', () => {
  test('adds', () => assert.strictEqual(1 + 2, 3));
  test('divides', () => assert.strictEqual(6 / 2, 4, 'six halves should be four'));
});
test('deep equal', () => assert.deepStrictEqual({ a: 1 }, { a: 2 }));
test('throws', () => { throw new Error('boom'); });
test('skipped', { skip: true }, () => {});
`;

describe('TestFailureCollector and parseJunitReport', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'conveyor-failures-'));
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  describe("node's test runner, run for real", () => {
    beforeAll(() => writeFileSync(join(dir, 'math.test.js'), NODE_TESTS));

    it('reads the TAP reporter (the default off a terminal): suite path, file, assertion, stack', () => {
      const output = run([process.execPath, '--test', 'math.test.js'], dir);
      expect(output).toContain('TAP version 13');
      const failures = failuresOf(output, dir);
      expect(failures.map(({ name, file }) => ({ name, file }))).toEqual([
        { name: 'math > divides', file: 'math.test.js' },
        { name: 'deep equal', file: 'math.test.js' },
        { name: 'throws', file: 'math.test.js' },
      ]);
      expect(failures[0].message).toMatch(/^six halves should be four\n\n3 !== 4\n/);
      expect(failures[0].message).toMatch(/at TestContext.<anonymous> \(.*math\.test\.js:5:\d+\)/);
      expect(failures[1].message).toContain('Expected values to be strictly deep-equal');
      expect(failures[2].message).toMatch(/^boom\n/);
    });

    it('reads the spec reporter, each failure once, with its file', () => {
      const output = run([process.execPath, '--test', '--test-reporter=spec', 'math.test.js'], dir);
      const failures = failuresOf(output, dir);
      expect(failures.map(({ name, file }) => ({ name, file }))).toEqual([
        { name: 'divides', file: 'math.test.js' },
        { name: 'deep equal', file: 'math.test.js' },
        { name: 'throws', file: 'math.test.js' },
      ]);
      expect(failures[0].message).toMatch(
        /^AssertionError \[ERR_ASSERTION\]: six halves should be four\n\n3 !== 4/,
      );
      expect(failures[2].message).toMatch(/^Error: boom\n\s+at /);
    });

    it('reads the report of --test-reporter=junit', () => {
      const xml = run([process.execPath, '--test', '--test-reporter=junit', 'math.test.js'], dir);
      expect(xml).toMatch(/^<\?xml/);
      const failures = parseJunitReport(xml);
      expect(failures.map((failure) => failure.name)).toEqual(['divides', 'deep equal', 'throws']);
      expect(failures[0].message).toContain('six halves should be four\n\n3 !== 4');
      expect(failures[0].message).toContain('at TestContext.<anonymous>');
      expect(failures[2].message).toContain('Error: boom');
    });
  });

  it('reads Jest, run for real: "suite › test", its file, the expectation without the code frame', () => {
    const project = join(dir, 'jest');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), '{ "name": "fixture", "private": true }\n');
    writeFileSync(
      join(project, 'math.test.js'),
      `describe('math', () => {
  test('adds', () => expect(1 + 2).toBe(3));
  test('divides', () => expect(6 / 2).toBe(4));
});
test('deep equal', () => expect({ a: 1 }).toEqual({ a: 2 }));
`,
    );
    const output = run([JEST, '--ci', '--no-watchman', '--rootDir', project], project);
    expect(output).toMatch(/Tests:\s+2 failed, 1 passed, 3 total/);
    const failures = failuresOf(output);
    expect(failures.map(({ name, file }) => ({ name, file }))).toEqual([
      { name: 'math › divides', file: 'math.test.js' },
      { name: 'deep equal', file: 'math.test.js' },
    ]);
    expect(failures[0].message).toMatch(
      /^expect\(received\)\.toBe\(expected\) \/\/ Object\.is equality\n\nExpected: 4\nReceived: 3\n/,
    );
    expect(failures[0].message).toMatch(/at Object\.toBe \(math\.test\.js:3:\d+\)$/);
    expect(failures[0].message).not.toContain('|');
  });

  const pytestTest = has('pytest') ? it : it.skip;
  pytestTest('reads pytest, run for real (when installed): test ids, file, the E lines', () => {
    const project = join(dir, 'py');
    mkdirSync(project);
    writeFileSync(
      join(project, 'test_math.py'),
      [
        'def test_adds():',
        '    assert 1 + 2 == 3',
        '',
        'def test_divides():',
        '    assert 6 / 2 == 4, "six halves should be four"',
        '',
        'class TestMath:',
        '    def test_throws(self):',
        '        raise ValueError("boom")',
        '',
      ].join('\n'),
    );
    const output = run(['pytest', '-p', 'no:cacheprovider'], project);
    expect(output).toContain('2 failed, 1 passed');
    expect(failuresOf(output)).toEqual([
      {
        name: 'test_divides',
        file: 'test_math.py',
        message:
          'AssertionError: six halves should be four\nassert (6 / 2) == 4\n' +
          'test_math.py:5: AssertionError',
      },
      {
        name: 'TestMath.test_throws',
        file: 'test_math.py',
        message: 'ValueError: boom\ntest_math.py:9: ValueError',
      },
    ]);
    run(['pytest', '-p', 'no:cacheprovider', '--junitxml=report.xml'], project);
    const fromReport = parseJunitReport(readFileSync(join(project, 'report.xml'), 'utf8'));
    expect(fromReport.map((failure) => failure.name)).toEqual(['test_divides', 'test_throws']);
    expect(fromReport[0].message).toMatch(/^AssertionError: six halves should be four\n/);
    expect(fromReport[1].message).toMatch(/^ValueError: boom\n/);
  });

  it('reads pytest (captured, see fixtures/README.md), parametrised ids included', () => {
    const failures = failuresOf(readFileSync(join(FIXTURES, 'pytest.txt'), 'utf8'));
    expect(failures.map(({ name, file }) => ({ name, file }))).toEqual([
      { name: 'test_divides', file: 'test_sum.py' },
      { name: 'TestMath.test_deep_equal', file: 'test_sum.py' },
      { name: 'TestMath.test_throws', file: 'test_sum.py' },
      { name: 'test_param[2]', file: 'test_sum.py' },
    ]);
    expect(failures[1].message).toMatch(/^AssertionError: assert \{'a': 1\} == \{'a': 2\}\n/);
    expect(failures[3].message).toBe('assert 2 == 1\ntest_sum.py:26: AssertionError');
  });

  it("reads pytest's short summary when the tracebacks are off (--tb=no)", () => {
    const output = [
      '=========================== short test summary info ============================',
      'FAILED test_sum.py::TestMath::test_throws - ValueError: boom',
      'FAILED test_sum.py::test_param[2] - assert 2 == 1',
      '========================= 2 failed, 2 passed in 0.05s ==========================',
      '',
    ].join('\n');
    expect(failuresOf(output)).toEqual([
      { name: 'TestMath.test_throws', file: 'test_sum.py', message: 'ValueError: boom' },
      { name: 'test_param[2]', file: 'test_sum.py', message: 'assert 2 == 1' },
    ]);
  });

  it.each(['go-test.txt', 'go-test-v.txt'])(
    'reads go test (captured, see fixtures/README.md: %s): subtests, not their parent',
    (sample) => {
      expect(failuresOf(readFileSync(join(FIXTURES, sample), 'utf8'))).toEqual([
        { name: 'TestDivides', file: 'sum_test.go', message: 'sum_test.go:13: 6 / 2 = 3, want 4' },
        {
          name: 'TestTable/wrong',
          file: 'sum_test.go',
          message: 'sum_test.go:21: Add(2, 2) = 4, want 5',
        },
      ]);
    },
  );

  it("reads Vitest's default reporter (a sample written from its documentation, see fixtures/README.md)", () => {
    const failures = failuresOf(readFileSync(join(FIXTURES, 'vitest.txt'), 'utf8'));
    expect(failures.map(({ name, file }) => ({ name, file }))).toEqual([
      { name: 'math > divides', file: 'src/sum.test.ts' },
      { name: 'deep equal', file: 'src/sum.test.ts' },
    ]);
    expect(failures[0].message).toMatch(
      /^AssertionError: expected 3 to be 4 \/\/ Object\.is equality\n/,
    );
    expect(failures[0].message).toMatch(/❯ src\/sum\.test\.ts:4:39$/);
  });

  it('keeps the first 50 failures and at most 2 KiB of each message', () => {
    const tap = Array.from(
      { length: 60 },
      (_, i) =>
        `not ok ${i + 1} - test ${i + 1}\n  ---\n  error: |-\n    ${'é'.repeat(3000)}\n  ...\n`,
    ).join('');
    const failures = failuresOf(tap);
    expect(failures).toHaveLength(MAX_FAILURES);
    expect(failures.at(-1)!.name).toBe('test 50');
    for (const { message } of failures) {
      expect(Buffer.byteLength(message)).toBeLessThanOrEqual(MAX_FAILURE_MESSAGE_BYTES);
      expect(message).toMatch(/^éé.*…$/);
    }
  });

  it('finds none in output it does not recognise, nor in passing runs', () => {
    expect(failuresOf('')).toEqual([]);
    expect(failuresOf('ok 1 - adds\n# pass 1\n# fail 0\n')).toEqual([]);
    expect(
      failuresOf("Error: Cannot find module 'jest'\n    at Module._resolveFilename\n"),
    ).toEqual([]);
  });

  it('reads JUnit <error> elements, CDATA and character references (a hand-written report)', () => {
    const xml = `<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="1" failures="1" tests="3">
<testcase classname="test_sum" name="test_adds" time="0.001" />
<testcase classname="test_sum" name="test_divides" file="test_sum.py" line="12">
<failure message="AssertionError: six halves should be four&#10;assert (6 / 2) == 4"><![CDATA[def test_divides():
>       assert 6 / 2 == 4, "six halves should be four"
E       AssertionError: six halves should be four]]></failure></testcase>
<testcase classname="test_sum" name="test_setup"><error message="fixture &apos;db&apos; not found" /></testcase>
</testsuite></testsuites>`;
    expect(parseJunitReport(xml)).toEqual([
      {
        name: 'test_divides',
        file: 'test_sum.py',
        message:
          'AssertionError: six halves should be four\nassert (6 / 2) == 4\ndef test_divides():\n' +
          '>       assert 6 / 2 == 4, "six halves should be four"\n' +
          'E       AssertionError: six halves should be four',
      },
      { name: 'test_setup', message: "fixture 'db' not found" },
    ]);
  });
});
