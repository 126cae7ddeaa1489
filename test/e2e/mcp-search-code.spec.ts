import type { Server } from 'node:http';
import { Injectable, Module, NotFoundException } from '@nestjs/common';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { defineJobKind } from '../../src/core/job.types';
import { uniqueUser } from '../support/api';
import { startStack, tokenFor, type TestStack } from '../support/app';
import { baseUrl } from '../support/socket';
import { EchoParams, EchoProcessor } from '../support/test-kinds';

/**
 * Stands in for the code search of SPEC §12 (CodeSearchService, built on another branch): same
 * provider name, same method. MCP must find it among the providers and offer search_code.
 */
@Injectable()
class CodeSearchService {
  readonly calls: unknown[][] = [];

  search(ownerId: string, projectId: string, q: string, limit: number) {
    this.calls.push([ownerId, projectId, q, limit]);
    if (projectId !== 'p-indexed') throw new NotFoundException(`project ${projectId} not found`);
    return Promise.resolve({
      items: [
        {
          path: 'src/config.ts',
          startLine: 3,
          endLine: 9,
          symbol: 'parseConfig',
          snippet: 'export function parseConfig() {}',
          score: 0.03,
        },
      ],
      indexedAt: '2026-12-01T10:00:00.000Z',
    });
  }
}

@Module({ providers: [CodeSearchService], exports: [CodeSearchService] })
class SearchStandInModule {}

const kindWithSearch = defineJobKind({
  name: 'echo',
  params: EchoParams,
  processor: EchoProcessor,
  imports: [SearchStandInModule],
});

describe('MCP search_code, when the code search exists', () => {
  let stack: TestStack;
  let client: Client;
  const user = uniqueUser('searcher');

  beforeAll(async () => {
    stack = await startStack('mcp-search', [kindWithSearch]);
    client = new Client({ name: 'conveyor-test', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(
        new URL('/mcp', baseUrl(stack.app.getHttpServer() as Server)),
        {
          requestInit: { headers: { Authorization: `Bearer ${tokenFor(user)}` } },
        },
      ),
    );
  });

  afterAll(async () => {
    await client?.close();
    await stack?.close();
  });

  it('is listed and answers hits in words and as structured content, for the caller', async () => {
    const { tools } = await client.listTools();
    expect(tools.find((tool) => tool.name === 'search_code')?.inputSchema.required).toEqual([
      'projectId',
      'q',
    ]);
    const result = (await client.callTool({
      name: 'search_code',
      arguments: { projectId: 'p-indexed', q: 'parseConfig' },
    })) as CallToolResult;
    expect(result.isError).toBeUndefined();
    expect(result.content).toEqual([
      { type: 'text', text: 'src/config.ts:3-9 parseConfig\nexport function parseConfig() {}' },
    ]);
    expect(result.structuredContent).toMatchObject({ indexedAt: '2026-12-01T10:00:00.000Z' });
    const service = stack.app.get(CodeSearchService, { strict: false });
    expect(service.calls).toEqual([[user, 'p-indexed', 'parseConfig', 10]]);
  });

  it('refuses bad arguments and answers an unknown project as not found', async () => {
    const call = async (args: Record<string, unknown>) =>
      (await client.callTool({ name: 'search_code', arguments: args })) as CallToolResult;
    const text = (result: CallToolResult) => (result.content[0] as { text: string }).text;
    expect(text(await call({ projectId: 'p-indexed', q: '   ' }))).toMatch(
      /q must be a non-blank string/,
    );
    expect(text(await call({ projectId: 'p-indexed', q: 'x', limit: 51 }))).toMatch(
      /limit must be an integer from 1 to 50/,
    );
    expect(text(await call({ q: 'x' }))).toMatch(/projectId must be a string/);
    const foreign = await call({ projectId: 'p-other', q: 'x' });
    expect(foreign.isError).toBe(true);
    expect(text(foreign)).toBe('refused (404): project p-other not found');
  });
});
