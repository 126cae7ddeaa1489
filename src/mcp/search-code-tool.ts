import { BadRequestException } from '@nestjs/common';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import { inputProblem, propertyLabel } from '../common/params-validation';
import type { CodeSearchService } from '../search/code-search.service';
import type { SearchHitView } from '../search/dto/search.view';

export const SEARCH_CODE = 'search_code';

export const SEARCH_CODE_TOOL: Tool = {
  name: SEARCH_CODE,
  description:
    "Searches a project's indexed code (run the indexing tool first): identifiers, parts of " +
    'names, paths or words; the best matching chunks with their lines.',
  inputSchema: {
    type: 'object',
    properties: {
      projectId: { type: 'string', minLength: 1, maxLength: 200 },
      q: { type: 'string', minLength: 1, maxLength: 500, description: 'What to look for' },
      limit: { type: 'integer', minimum: 1, maximum: 50, default: 10 },
    },
    required: ['projectId', 'q'],
    additionalProperties: false,
  },
  annotations: { readOnlyHint: true },
};

/** The same bounds as GET /projects/:id/search. */
export function searchArguments(args: Record<string, unknown> | undefined): {
  projectId: string;
  q: string;
  limit: number;
} {
  const problem = inputProblem(args ?? {}, 'arguments');
  if (problem) throw new BadRequestException(problem);
  if (args?.limit === null) {
    throw new BadRequestException('limit must not be null; omit it to leave it unset');
  }
  const { projectId, q, limit = 10, ...rest } = args ?? {};
  const extra = Object.keys(rest)[0];
  if (extra !== undefined) {
    throw new BadRequestException(`${propertyLabel(extra)} is not an allowed property`);
  }
  if (typeof projectId !== 'string' || projectId.length < 1 || projectId.length > 200) {
    throw new BadRequestException('projectId must be a string of 1-200 characters');
  }
  if (typeof q !== 'string' || q.length > 500 || !/\S/.test(q)) {
    throw new BadRequestException('q must be a non-blank string of at most 500 characters');
  }
  if (!Number.isInteger(limit) || (limit as number) < 1 || (limit as number) > 50) {
    throw new BadRequestException('limit must be an integer from 1 to 50');
  }
  return { projectId, q, limit: limit as number };
}

function hitWords(hit: SearchHitView): string {
  const symbol = hit.symbol ? ` ${hit.symbol}` : '';
  return `${hit.path}:${hit.startLine}-${hit.endLine}${symbol}\n${hit.snippet}`;
}

/** GET /projects/:id/search as a tool: the hits in words, and as they are in structuredContent. */
export async function searchCode(
  search: CodeSearchService,
  userId: string,
  args: Record<string, unknown> | undefined,
): Promise<CallToolResult> {
  const { projectId, q, limit } = searchArguments(args);
  const found = await search.search(userId, projectId, q, limit);
  const lines =
    found.items.length === 0
      ? [found.indexedAt === null ? 'the project has not been indexed' : 'no match']
      : found.items.map(hitWords);
  return {
    content: [{ type: 'text', text: lines.join('\n\n') }],
    structuredContent: { items: found.items, indexedAt: found.indexedAt },
  };
}
