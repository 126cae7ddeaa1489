import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { LLM_PROVIDER_NAMES, type LlmProviderName } from '../../config/llm.config';
import { MAX_CONTEXT_FILES } from './workspace-files';

export const DEFAULT_CONTEXT_CHUNKS = 8;
export const MAX_CONTEXT_CHUNKS = 50;
/** A search query is at most this long (GET /projects/:id/search); a longer prompt is cut. */
export const MAX_CONTEXT_QUERY_CHARS = 500;

/** Retrieved context: code search's top chunks given to the model (docs/code-generation.md). */
export class CodeGenerationContextParams {
  @ApiPropertyOptional({
    default: false,
    description: "Give the model the top chunks of the project's code search for the query",
  })
  @IsOptional()
  @IsBoolean()
  search?: boolean;

  @ApiPropertyOptional({
    description: 'What to search for; default: the prompt',
    maxLength: MAX_CONTEXT_QUERY_CHARS,
  })
  @IsOptional()
  @IsString()
  @Length(1, MAX_CONTEXT_QUERY_CHARS)
  @Matches(/\S/, { message: 'query must not be blank' })
  query?: string;

  @ApiPropertyOptional({
    minimum: 1,
    maximum: MAX_CONTEXT_CHUNKS,
    default: DEFAULT_CONTEXT_CHUNKS,
    description: 'How many chunks at most',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_CONTEXT_CHUNKS)
  limit?: number;
}

export class CodeGenerationParams {
  @ApiProperty({ description: 'What to generate', maxLength: 100_000 })
  @IsString()
  @Length(1, 100_000)
  prompt!: string;

  @ApiPropertyOptional({
    description: 'Added to the system prompt that asks for the answer format',
    maxLength: 20_000,
  })
  @IsOptional()
  @IsString()
  @MaxLength(20_000)
  system?: string;

  @ApiPropertyOptional({
    description: `Workspace-relative paths given to the model as context (≤ ${MAX_CONTEXT_FILES} files, ≤ 512 KiB together)`,
    type: [String],
    maxItems: MAX_CONTEXT_FILES,
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(MAX_CONTEXT_FILES)
  @IsString({ each: true })
  @Length(1, 1000, { each: true })
  files?: string[];

  @ApiPropertyOptional({
    enum: LLM_PROVIDER_NAMES,
    description: 'Only this provider (no failover); default: LLM_PROVIDERS in order',
  })
  @IsOptional()
  @IsIn(LLM_PROVIDER_NAMES)
  provider?: LlmProviderName;

  @ApiPropertyOptional({ description: "The provider's model id; needs provider", maxLength: 200 })
  @IsOptional()
  @IsString()
  @Matches(/^[\w.:/@+-]{1,200}$/, {
    message: 'model must be 1-200 letters, digits or . : / @ + - _',
  })
  model?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 1_000_000 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  maxOutputTokens?: number;

  @ApiPropertyOptional({ minimum: 0, maximum: 2 })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(2)
  temperature?: number;

  @ApiPropertyOptional({
    default: true,
    description: "Write the answer's files into the workspace",
  })
  @IsOptional()
  @IsBoolean()
  apply?: boolean;

  @ApiPropertyOptional({ default: true, description: 'Answer identical requests from the cache' })
  @IsOptional()
  @IsBoolean()
  cache?: boolean;

  @ApiPropertyOptional({
    type: CodeGenerationContextParams,
    description:
      "Context retrieved from the project's code index, bounded together with files (512 KiB)",
  })
  @IsOptional()
  @ValidateNested()
  @Type(() => CodeGenerationContextParams)
  context?: CodeGenerationContextParams;
}
