import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  IsArray,
  IsInt,
  IsOptional,
  IsString,
  Length,
  MaxLength,
  Min,
} from 'class-validator';

export class TestExecutionParams {
  @ApiProperty({
    description: 'Run without a shell: quotes allowed; ; | & $ ` > < and newlines refused',
    example: 'npm test -- --runInBand',
    maxLength: 2000,
  })
  @IsString()
  @Length(1, 2000)
  testCommand!: string;

  @ApiPropertyOptional({
    description: 'Paths inside the workspace, appended as arguments',
    type: [String],
    maxItems: 500,
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(500)
  @IsString({ each: true })
  @MaxLength(1000, { each: true })
  files?: string[];

  @ApiPropertyOptional({
    description: 'Default TEST_TIMEOUT_MS (5 min), at most TEST_TIMEOUT_MAX_MS',
    minimum: 1000,
  })
  @IsOptional()
  @IsInt()
  @Min(1000)
  timeoutMs?: number;

  @ApiPropertyOptional({
    description:
      'Workspace-relative path of a JUnit XML report the command writes; failures are read ' +
      'from it (from the output when it is missing after the run)',
    example: 'reports/junit.xml',
    maxLength: 1000,
  })
  @IsOptional()
  @IsString()
  @Length(1, 1000)
  junitReport?: string;
}
