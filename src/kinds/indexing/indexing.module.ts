import { Module } from '@nestjs/common';
import { CodeIndexModule } from '../../search/code-index.module';
import { CodeIndexerService } from './code-indexer.service';

@Module({
  imports: [CodeIndexModule],
  providers: [CodeIndexerService],
  exports: [CodeIndexerService],
})
export class IndexingModule {}
