import { Module } from '@nestjs/common';
import { CodeSearchController } from './code-search.controller';
import { CodeSearchModule } from './code-search.module';

/** GET /projects/:id/search and the search_code MCP tool (api processes). */
@Module({
  imports: [CodeSearchModule],
  controllers: [CodeSearchController],
  exports: [CodeSearchModule],
})
export class SearchModule {}
