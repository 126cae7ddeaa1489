import { ApiProperty } from '@nestjs/swagger';
import { LLM_PROVIDER_NAMES, type LlmProviderName } from '../../config/llm.config';

export class GeneratedFileView {
  @ApiProperty({ example: 'src/sum.ts' })
  path!: string;

  @ApiProperty({ enum: ['created', 'modified'] })
  action!: 'created' | 'modified';

  @ApiProperty({ description: 'Size of the new content in bytes' })
  bytes!: number;
}

export class TokenUsageView {
  @ApiProperty({ type: Number, nullable: true })
  inputTokens!: number | null;

  @ApiProperty({ type: Number, nullable: true })
  outputTokens!: number | null;

  @ApiProperty({ type: Number, nullable: true })
  totalTokens!: number | null;
}

export class FailoverView {
  @ApiProperty({ enum: LLM_PROVIDER_NAMES })
  provider!: LlmProviderName;

  @ApiProperty({ example: 'HTTP 529: Overloaded' })
  error!: string;
}

export class ContextChunkView {
  @ApiProperty({ example: 'src/invoice.ts' })
  path!: string;

  @ApiProperty({ type: 'integer', minimum: 1, example: 12 })
  startLine!: number;

  @ApiProperty({ type: 'integer', minimum: 1, example: 30 })
  endLine!: number;
}

export class CodeGenerationResultView {
  @ApiProperty({ enum: LLM_PROVIDER_NAMES })
  provider!: LlmProviderName;

  @ApiProperty()
  model!: string;

  @ApiProperty({ description: "The model's whole answer" })
  text!: string;

  @ApiProperty({ type: [GeneratedFileView] })
  files!: GeneratedFileView[];

  @ApiProperty({ description: 'false when apply was false: files lists what the answer holds' })
  applied!: boolean;

  @ApiProperty({ type: TokenUsageView })
  usage!: TokenUsageView;

  @ApiProperty({ example: 'stop' })
  finishReason!: string;

  @ApiProperty({ description: 'Answered without calling a provider (cache or a shared call)' })
  cached!: boolean;

  @ApiProperty({ type: [FailoverView] })
  failover!: FailoverView[];

  @ApiProperty({
    type: [ContextChunkView],
    description: 'The code search chunks given to the model (context.search); [] when none',
  })
  contextChunks!: ContextChunkView[];

  @ApiProperty({ type: Number, nullable: true })
  timeToFirstTokenMs!: number | null;

  @ApiProperty()
  durationMs!: number;
}

/** What the processor returns (a type alias, so it is assignable to the core's JsonValue). */
export type CodeGenerationResult = {
  provider: LlmProviderName;
  model: string;
  text: string;
  files: { path: string; action: 'created' | 'modified'; bytes: number }[];
  applied: boolean;
  usage: { inputTokens: number | null; outputTokens: number | null; totalTokens: number | null };
  finishReason: string;
  cached: boolean;
  failover: { provider: LlmProviderName; error: string }[];
  contextChunks: { path: string; startLine: number; endLine: number }[];
  timeToFirstTokenMs: number | null;
  durationMs: number;
};
