import { ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsBoolean, IsOptional, IsString, Length } from 'class-validator';

export class IndexingParams {
  @ApiPropertyOptional({
    description: 'Chunk every file again, even those whose content did not change',
    default: false,
  })
  @IsOptional()
  @IsBoolean()
  fullReindex?: boolean;

  @ApiPropertyOptional({
    description: 'Only paths matching one of these globs (`src/**`, `*.ts`, `{lib,src}/**/*.py`)',
    type: [String],
    maxItems: 100,
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(100)
  @IsString({ each: true })
  @Length(1, 500, { each: true })
  include?: string[];

  @ApiPropertyOptional({
    description: 'Leave out paths matching one of these globs (`**/*.test.ts`, `vendor/`)',
    type: [String],
    maxItems: 100,
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(100)
  @IsString({ each: true })
  @Length(1, 500, { each: true })
  exclude?: string[];
}
