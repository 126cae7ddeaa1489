import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentUser } from '../auth/auth.decorators';
import type { AuthUser } from '../auth/jwt.service';
import { CodeSearchService } from './code-search.service';
import { SearchQuery } from './dto/search.query';
import { SearchResultView } from './dto/search.view';

@ApiTags('projects')
@ApiBearerAuth()
@Controller('projects')
export class CodeSearchController {
  constructor(private readonly search: CodeSearchService) {}

  @Get(':id/search')
  @ApiOperation({
    summary: "Search the project's code index (run an indexing job first)",
    description:
      'Full text that splits identifiers, trigram matches on symbol names, exact symbol and ' +
      'path matches and, with an embeddings provider, vectors, fused by reciprocal rank.',
  })
  @ApiOkResponse({ type: SearchResultView })
  find(
    @CurrentUser() user: AuthUser,
    @Param('id') id: string,
    @Query() query: SearchQuery,
  ): Promise<SearchResultView> {
    return this.search.search(user.id, id, query.q, query.limit);
  }
}
