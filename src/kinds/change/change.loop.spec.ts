import {
  buildFixPrompt,
  ChangeLoop,
  failingTestsBody,
  FIX_PROMPT_LIMITS,
  searchQuery,
  type Generation,
  type TestRun,
} from './change.loop';
import { validateParams } from '../../common/params-validation';
import { CodeGenerationParams } from '../code-generation/code-generation.params';

const generation = (tokens: number, paths: string[] = ['src/sum.js']): Generation => ({
  files: paths.map((path) => ({ path, action: 'modified' as const, bytes: 10 })),
  applied: true,
  usage: { inputTokens: tokens / 2, outputTokens: tokens / 2, totalTokens: tokens },
});

const red = (...names: string[]): TestRun => ({
  exitCode: 1,
  passed: 3,
  failed: names.length,
  outputTail: 'not ok',
  failures: names.map((name) => ({
    name,
    file: 'sum.test.js',
    message: `${name}: expected 3, got 4`,
  })),
});

const green: TestRun = { exitCode: 0, passed: 4, failed: 0, outputTail: 'ok', failures: [] };

describe('ChangeLoop', () => {
  it('stops as passed when the tests go green, with each iteration recorded', () => {
    const loop = new ChangeLoop(3, null);
    expect(loop.nextGeneration()).toEqual({ maxOutputTokens: undefined });
    loop.recordGeneration('g1', generation(100));
    loop.recordTests('t1', red('adds'));
    expect(loop.nextGeneration()).not.toBeNull();
    loop.recordGeneration('g2', generation(100, ['src/sum.js', 'src/util.js']));
    loop.recordTests('t2', green);
    expect(loop.nextGeneration()).toBeNull();
    expect(loop.stopReason).toBe('passed');
    expect(loop.outcome()).toBe('passed');
    expect(loop.iterations).toEqual([
      { generationJobId: 'g1', testJobId: 't1', passed: 3, failed: 1, failing: ['adds'] },
      { generationJobId: 'g2', testJobId: 't2', passed: 4, failed: 0, failing: [] },
    ]);
    expect(loop.filesChanged).toEqual(['src/sum.js', 'src/util.js']);
    expect(loop.usage).toEqual({ inputTokens: 100, outputTokens: 100, totalTokens: 200 });
  });

  it('stops at maxIterations with the tests still failing', () => {
    const loop = new ChangeLoop(2, null);
    loop.nextGeneration();
    loop.recordGeneration('g1', generation(10));
    loop.recordTests('t1', red('a'));
    loop.nextGeneration();
    loop.recordGeneration('g2', generation(10));
    loop.recordTests('t2', red('b'));
    expect(loop.nextGeneration()).toBeNull();
    expect(loop.stopReason).toBe('max-iterations');
    expect(loop.outcome()).toBe('tests-failing');
  });

  it('stops for no progress when the same tests fail twice in a row, whatever their order', () => {
    const loop = new ChangeLoop(5, null);
    loop.nextGeneration();
    loop.recordGeneration('g1', generation(10));
    loop.recordTests('t1', red('a', 'b'));
    loop.nextGeneration();
    loop.recordGeneration('g2', generation(10));
    loop.recordTests('t2', red('b', 'a'));
    expect(loop.nextGeneration()).toBeNull();
    expect(loop.stopReason).toBe('no-progress');
  });

  it('tells unnamed failures apart by their counts', () => {
    const loop = new ChangeLoop(5, null);
    const unnamed = (failed: number): TestRun => ({
      exitCode: 1,
      passed: 0,
      failed,
      outputTail: '',
    });
    loop.nextGeneration();
    loop.recordGeneration('g1', generation(10));
    loop.recordTests('t1', unnamed(2));
    loop.nextGeneration();
    loop.recordGeneration('g2', generation(10));
    loop.recordTests('t2', unnamed(1));
    expect(loop.nextGeneration()).not.toBeNull();
  });

  it('does not start a generation when what is left of the budget is below its reserve', () => {
    const loop = new ChangeLoop(5, { maxTokens: 2_500, reserve: 1_000 });
    expect(loop.nextGeneration()).toEqual({ maxOutputTokens: 1_000 });
    loop.recordGeneration('g1', generation(1_000));
    loop.recordTests('t1', red('a'));
    expect(loop.nextGeneration()).toEqual({ maxOutputTokens: 1_000 });
    loop.recordGeneration('g2', generation(1_000));
    loop.recordTests('t2', red('b'));
    expect(loop.nextGeneration()).toBeNull();
    expect(loop.stopReason).toBe('budget');
    expect(loop.iterations).toHaveLength(2);
  });

  it('counts unapplied answers toward the budget but not toward the files changed', () => {
    const loop = new ChangeLoop(1, null);
    loop.nextGeneration();
    loop.recordGeneration('g1', { ...generation(40), applied: false });
    loop.recordUntested();
    expect(loop.filesChanged).toEqual([]);
    expect(loop.usage.totalTokens).toBe(40);
    expect(loop.outcome()).toBe('untested');
    expect(loop.stopReason).toBe('untested');
  });
});

describe('buildFixPrompt', () => {
  it('holds the original prompt, the failing tests with their messages and the files changed', () => {
    const prompt = buildFixPrompt('Write sum()', red('adds two numbers'), ['src/sum.js']);
    expect(prompt.startsWith('Write sum()')).toBe(true);
    expect(prompt).toContain('adds two numbers (sum.test.js)');
    expect(prompt).toContain('adds two numbers: expected 3, got 4');
    expect(prompt).toContain('src/sum.js');
  });

  it('stays within its bounds, however many and however long the failures', () => {
    const many: TestRun = {
      ...red(),
      failed: 500,
      failures: Array.from({ length: 500 }, (_, i) => ({
        name: `test ${i}`,
        message: 'x'.repeat(10_000),
      })),
    };
    const prompt = buildFixPrompt('p'.repeat(FIX_PROMPT_LIMITS.promptChars), many, []);
    expect(prompt.length).toBeLessThanOrEqual(FIX_PROMPT_LIMITS.promptChars);
    expect(prompt).toContain('test 19');
    expect(prompt).not.toContain('test 20:');
    expect(prompt).toContain('and 480 more');
    expect(prompt).not.toContain('x'.repeat(FIX_PROMPT_LIMITS.messageChars + 1));
  });

  it('stays within the prompt limit however many files were changed', () => {
    const files = Array.from({ length: 2_000 }, (_, i) => `src/${'deep/'.repeat(10)}file${i}.js`);
    const prompt = buildFixPrompt('p'.repeat(1_000), red('adds'), files);
    expect(prompt.length).toBeLessThanOrEqual(FIX_PROMPT_LIMITS.promptChars);
    expect(prompt.length - 1_000).toBeLessThanOrEqual(FIX_PROMPT_LIMITS.addedChars);
    expect(prompt.startsWith('p'.repeat(1_000))).toBe(true);
    expect(prompt.endsWith('Give every file you change whole.')).toBe(true);
  });

  it('gives the end of the output when no failing test could be read', () => {
    const prompt = buildFixPrompt(
      'p',
      { exitCode: 2, passed: null, failed: null, outputTail: 'SyntaxError: oops' },
      [],
    );
    expect(prompt).toContain('exited with 2');
    expect(prompt).toContain('SyntaxError: oops');
  });
});

describe('failingTestsBody', () => {
  it("lists the failing tests after the caller's body", () => {
    expect(failingTestsBody('Adds sum()', red('adds'))).toBe(
      'Adds sum()\n\n## Tests still failing\n\n- adds (sum.test.js)\n',
    );
  });
});

describe('searchQuery', () => {
  it('keeps a long prompt within what a code-generation step accepts as its query', async () => {
    const prompt = `  ${'add a sum function to the math module '.repeat(100)}`;
    const query = searchQuery(prompt);
    expect(query).toMatch(/^add a sum function/);
    await expect(
      validateParams(CodeGenerationParams, { prompt, context: { search: true, query } }),
    ).resolves.toBeDefined();
  });

  it('starts at the first word, and leaves a blank prompt to the step', () => {
    expect(searchQuery(`${' '.repeat(600)}x`)).toBe('x');
    expect(searchQuery(' \n ')).toBeUndefined();
  });
});
