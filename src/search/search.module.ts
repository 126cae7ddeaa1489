import { Module } from '@nestjs/common';
import { CodeIndexModule } from './code-index.module';
import { CodeSearchController } from './code-search.controller';
import { CodeSearchService } from './code-search.service';

/** GET /projects/:id/search and the search_code MCP tool (api processes). */
@Module({
  imports: [CodeIndexModule],
  providers: [CodeSearchService],
  controllers: [CodeSearchController],
  exports: [CodeSearchService],
})
export class SearchModule {}
