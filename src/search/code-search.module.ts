import { Module } from '@nestjs/common';
import { CodeIndexModule } from './code-index.module';
import { CodeSearchService } from './code-search.service';

/** Code search without its HTTP route: for the API's search and the kinds that retrieve context. */
@Module({
  imports: [CodeIndexModule],
  providers: [CodeSearchService],
  exports: [CodeSearchService],
})
export class CodeSearchModule {}
