import { MAX_CONTEXT_QUERY_CHARS } from '../code-generation/code-generation.params';
import type { CodeGenerationResult } from '../code-generation/code-generation.result';
import type { TestFailure } from '../test-execution/test-execution.result';
import type { ChangeIteration, ChangeResult, ChangeStopReason } from './change.result';

/** What a fix prompt and a pull request body are built from: one failing test. */
export type FailingTest = TestFailure;

/** The parts of a test-execution result the loop reads. */
export type TestRun = {
  exitCode: number | null;
  passed: number | null;
  failed: number | null;
  outputTail: string;
  failures?: FailingTest[];
};

/** The parts of a code-generation result the loop reads. */
export type Generation = Pick<CodeGenerationResult, 'files' | 'applied' | 'usage'>;

/** Bounds of the fix prompt (docs/change.md): what it may add to the original prompt. */
export const FIX_PROMPT_LIMITS = {
  failures: 20,
  messageChars: 1_000,
  outputTailChars: 4_000,
  /** Everything added to the original prompt, whatever the names and paths in it. */
  addedChars: 40_000,
  /** The code-generation prompt's own limit. */
  promptChars: 100_000,
} as const;

/** Used as a generation's reserve when the budget is set and maxOutputTokens is not. */
export const DEFAULT_GENERATION_RESERVE = 1_024;

export function testsPassed(run: TestRun): boolean {
  return run.exitCode === 0 && (run.failed ?? 0) === 0;
}

function failingNames(run: TestRun): string[] {
  return [...new Set((run.failures ?? []).map((failure) => failure.name))].sort();
}

/** Two runs fail "the same way" when the same tests fail (or, with no names read, the same counts). */
function failureSignature(run: TestRun): string {
  const names = failingNames(run);
  return names.length > 0
    ? JSON.stringify(names)
    : `unnamed:${run.failed ?? 'null'}:${run.exitCode ?? 'null'}`;
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

export function describeFailure(failure: FailingTest): string {
  return failure.file ? `${failure.name} (${failure.file})` : failure.name;
}

/** The original prompt, what failed and what was changed so far, within FIX_PROMPT_LIMITS. */
export function buildFixPrompt(prompt: string, run: TestRun, filesChanged: string[]): string {
  const failures = run.failures ?? [];
  const lines = ['', '', 'The changes made so far do not pass the tests yet.'];
  if (filesChanged.length > 0) {
    lines.push(`Files changed so far (their current content is given): ${filesChanged.join(', ')}`);
  }
  if (failures.length > 0) {
    lines.push(
      `Failing tests (${failures.length}${run.failed ? ` of ${run.failed} failed` : ''}):`,
    );
    for (const failure of failures.slice(0, FIX_PROMPT_LIMITS.failures)) {
      lines.push(
        `- ${describeFailure(failure)}:`,
        clip(failure.message, FIX_PROMPT_LIMITS.messageChars),
      );
    }
    if (failures.length > FIX_PROMPT_LIMITS.failures) {
      lines.push(`… and ${failures.length - FIX_PROMPT_LIMITS.failures} more.`);
    }
  } else {
    lines.push(
      `The test command exited with ${run.exitCode ?? 'no exit code'}; the end of its output:`,
      run.outputTail.slice(-FIX_PROMPT_LIMITS.outputTailChars),
    );
  }
  const instruction = 'Fix the code so that these tests pass. Give every file you change whole.';
  const extra = `${clip(lines.join('\n'), FIX_PROMPT_LIMITS.addedChars - instruction.length - 2)}\n${instruction}`;
  return `${prompt.slice(0, FIX_PROMPT_LIMITS.promptChars - extra.length)}${extra}`;
}

/**
 * What every generation searches the code for: the original prompt, not the fix prompt, cut to
 * what a code-generation step accepts as its query; undefined (the step's default) when that cut
 * holds nothing to search for.
 */
export function searchQuery(prompt: string): string | undefined {
  const query = prompt.trim().slice(0, MAX_CONTEXT_QUERY_CHARS);
  return /\S/.test(query) ? query : undefined;
}

/** The pull request's body when the tests are still red: the caller's text, then the failures. */
export function failingTestsBody(body: string | undefined, run: TestRun): string {
  const failures = run.failures ?? [];
  const list =
    failures.length > 0
      ? failures.map((failure) => `- ${describeFailure(failure)}`).join('\n')
      : `- the test command exited with ${run.exitCode ?? 'no exit code'} (${run.failed ?? 'unknown'} failed)`;
  return `${body ? `${body}\n\n` : ''}## Tests still failing\n\n${list}\n`;
}

/**
 * The loop's state between steps, fed with each step's result in order. A recovered parent is
 * fed the same finished results again by its durable steps, so it reaches the same decisions.
 */
export class ChangeLoop {
  readonly iterations: ChangeIteration[] = [];
  readonly usage = { inputTokens: 0, outputTokens: 0, totalTokens: 0 };
  private readonly changed = new Set<string>();
  private lastRun: TestRun | null = null;
  private stop: ChangeStopReason | null = null;

  constructor(
    readonly maxIterations: number,
    private readonly budget: { maxTokens: number; reserve: number } | null,
  ) {}

  get stopReason(): ChangeStopReason | null {
    return this.stop;
  }

  get filesChanged(): string[] {
    return [...this.changed].sort();
  }

  get lastTestRun(): TestRun | null {
    return this.lastRun;
  }

  /**
   * Whether generation n may start, and its output bound: null when it may not (the loop is
   * over); a number when the budget bounds the output, undefined when nothing does.
   */
  nextGeneration(): { maxOutputTokens: number | undefined } | null {
    if (this.stop) return null;
    if (this.iterations.length >= this.maxIterations) {
      this.stop = 'max-iterations';
      return null;
    }
    if (!this.budget) return { maxOutputTokens: undefined };
    const left = this.budget.maxTokens - this.usage.totalTokens;
    if (left < this.budget.reserve) {
      this.stop = 'budget';
      return null;
    }
    return { maxOutputTokens: Math.min(this.budget.reserve, left) };
  }

  recordGeneration(jobId: string, generation: Generation): void {
    this.iterations.push({ generationJobId: jobId });
    const input = generation.usage.inputTokens ?? 0;
    const output = generation.usage.outputTokens ?? 0;
    this.usage.inputTokens += input;
    this.usage.outputTokens += output;
    this.usage.totalTokens += generation.usage.totalTokens ?? input + output;
    if (generation.applied) for (const file of generation.files) this.changed.add(file.path);
  }

  /** The user's daily token quota refused the next generation: it counts as the budget spent. */
  recordQuotaReached(): void {
    this.stop = 'budget';
  }

  /** With no test command there is nothing to iterate on: one generation, untested. */
  recordUntested(): void {
    this.stop = 'untested';
  }

  recordTests(jobId: string, run: TestRun): void {
    const iteration = this.iterations[this.iterations.length - 1];
    iteration.testJobId = jobId;
    iteration.passed = run.passed;
    iteration.failed = run.failed;
    iteration.failing = failingNames(run);
    const previous = this.lastRun;
    this.lastRun = run;
    if (testsPassed(run)) this.stop = 'passed';
    else if (previous && failureSignature(previous) === failureSignature(run)) {
      this.stop = 'no-progress';
    }
  }

  outcome(): ChangeResult['outcome'] {
    if (!this.lastRun) return 'untested';
    return testsPassed(this.lastRun) ? 'passed' : 'tests-failing';
  }
}
