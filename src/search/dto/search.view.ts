import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class SearchHitView {
  @ApiProperty({ example: 'src/auth/session.ts' }) path!: string;
  @ApiProperty({ description: '1-based, inclusive' }) startLine!: number;
  @ApiProperty({ description: '1-based, inclusive' }) endLine!: number;
  @ApiPropertyOptional({ example: 'SessionStore.refresh' }) symbol?: string;
  @ApiPropertyOptional({ example: 'typescript' }) language?: string;
  @ApiProperty({ description: 'The start of the matching code' }) snippet!: string;
  @ApiProperty({ description: 'Fused reciprocal-rank score; higher is better' }) score!: number;
}

export class SearchResultView {
  @ApiProperty({ type: [SearchHitView] }) items!: SearchHitView[];
  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'When an indexing run last completed; null: never',
  })
  indexedAt!: string | null;
}
