import { BadRequestException } from '@nestjs/common';
import type { ModulesContainer } from '@nestjs/core';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import { inputProblem, propertyLabel } from '../http/validation';

export const SEARCH_CODE = 'search_code';

/** The provider's name and method SPEC §12's code search has (GET /projects/:id/search). */
const PROVIDER = 'CodeSearchService';

interface SearchHit {
  path: string;
  startLine: number;
  endLine: number;
  symbol?: string;
  snippet: string;
  score: number;
}

export interface CodeSearch {
  search(
    ownerId: string,
    projectId: string,
    q: string,
    limit: number,
  ): Promise<{ items: SearchHit[]; indexedAt: string | null }>;
}

/**
 * The code search service, when this build has one. It is looked up by name among the
 * application's providers, so that MCP offers search_code exactly when the search does exist.
 */
export function findCodeSearch(modules: ModulesContainer): CodeSearch | null {
  for (const module of modules.values()) {
    for (const wrapper of module.providers.values()) {
      const instance = wrapper.instance as Partial<CodeSearch> | null | undefined;
      if (wrapper.name === PROVIDER && typeof instance?.search === 'function') {
        return instance as CodeSearch;
      }
    }
  }
  return null;
}

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

export async function searchCode(
  search: CodeSearch,
  userId: string,
  args: Record<string, unknown> | undefined,
): Promise<CallToolResult> {
  const { projectId, q, limit } = searchArguments(args);
  const found = await search.search(userId, projectId, q, limit);
  const lines =
    found.items.length === 0
      ? [found.indexedAt === null ? 'the project has not been indexed' : 'no match']
      : found.items.map(
          (hit) =>
            `${hit.path}:${hit.startLine}-${hit.endLine}${hit.symbol ? ` ${hit.symbol}` : ''}\n${hit.snippet}`,
        );
  return {
    content: [{ type: 'text', text: lines.join('\n\n') }],
    structuredContent: found as unknown as Record<string, unknown>,
  };
}
