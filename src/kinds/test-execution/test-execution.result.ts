import { ApiProperty } from '@nestjs/swagger';

/** What a test-execution job ends with (the job's `result`). */
export class TestExecutionResult {
  [key: string]: string | number | boolean | null;

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
}
