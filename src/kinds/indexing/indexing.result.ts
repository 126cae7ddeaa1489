import { ApiProperty } from '@nestjs/swagger';
import type { SkipReason } from './file-discovery';

export class SkippedByReason {
  @ApiProperty() binary!: number;
  @ApiProperty({ description: 'over 1 MiB' }) 'too-large'!: number;
  @ApiProperty() minified!: number;
  @ApiProperty() generated!: number;
  @ApiProperty() lockfile!: number;
}

export class IndexingFileCounts {
  @ApiProperty({ description: 'Files git tracks or would track, after include/exclude' })
  total!: number;
  @ApiProperty({ description: 'Chunked again: new or changed content' })
  indexed!: number;
  @ApiProperty({ description: 'Same content hash as in the index: no work' })
  unchanged!: number;
  @ApiProperty({ description: 'Gone from the workspace, removed from the index' })
  removed!: number;
  @ApiProperty({ description: 'Binary, over 1 MiB, minified, generated or lock files' })
  skipped!: number;
  @ApiProperty({ type: SkippedByReason })
  skippedByReason!: SkippedByReason;
}

/** The result of an indexing job (docs/indexing.md#params-and-result). */
export class IndexingResultView {
  @ApiProperty({ type: IndexingFileCounts })
  files!: IndexingFileCounts;
  @ApiProperty({ description: 'Chunks in the index after the run' })
  chunks!: number;
  @ApiProperty({ description: 'Chunk contents embedded by this run (0 without a provider)' })
  embedded!: number;
  @ApiProperty()
  durationMs!: number;
}

export interface IndexingResult {
  [key: string]: number | IndexingResult['files'];
  files: {
    [key: string]: number | Record<SkipReason, number>;
    total: number;
    indexed: number;
    unchanged: number;
    removed: number;
    skipped: number;
    skippedByReason: Record<SkipReason, number>;
  };
  chunks: number;
  embedded: number;
  durationMs: number;
}
