import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { TestFailure } from './test-failures.parser';

export type { TestFailure } from './test-failures.parser';

/** One failing test (docs/test-execution.md, "Failures"). */
export class TestFailureView {
  @ApiProperty({ example: 'math > divides', description: 'The test as its runner names it' })
  name!: string;

  @ApiPropertyOptional({ example: 'test/math.test.js', description: 'Its file, when known' })
  file?: string;

  @ApiProperty({
    example:
      'AssertionError: expected 3 to equal 4\n    at Object.<anonymous> (test/math.test.js:5:3)',
    description: 'The assertion and the first lines of its stack (at most 2 KiB)',
  })
  message!: string;
}

/** What a test-execution job ends with (the job's `result`). */
export class TestExecutionResult {
  [key: string]: string | number | boolean | null | TestFailure[];

  @ApiProperty({
    type: 'integer',
    nullable: true,
    description: 'The test command exit code; null when it was killed by a signal',
  })
  exitCode!: number | null;

  @ApiProperty({ type: String, nullable: true, description: 'The signal that ended the command' })
  signal!: string | null;

  @ApiProperty({
    type: 'integer',
    nullable: true,
    minimum: 0,
    description: 'Tests passed, as read from the runner output; null when no summary was found',
  })
  passed!: number | null;

  @ApiProperty({ type: 'integer', nullable: true, minimum: 0, description: 'Tests failed' })
  failed!: number | null;

  @ApiProperty({ type: 'integer', nullable: true, minimum: 0, description: 'Tests skipped' })
  skipped!: number | null;

  @ApiProperty({ type: 'integer', minimum: 0 })
  durationMs!: number;

  @ApiProperty({ description: 'The last part of the combined output' })
  outputTail!: string;

  @ApiProperty({
    type: [TestFailureView],
    maxItems: 50,
    description:
      'The failing tests (at most 50), from the JUnit report named by junitReport or else ' +
      "from the runner's output; [] when none were recognised",
  })
  failures!: TestFailure[];
}
