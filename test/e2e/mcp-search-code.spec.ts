import type { Server } from 'node:http';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { JOB_KINDS } from '../../src/job-kinds';
import { Api, uniqueUser } from '../support/api';
import { startStack, tokenFor, type TestStack } from '../support/app';
import { writeFiles } from '../support/code-index';
import { baseUrl } from '../support/socket';

/**
 * search_code over the real code search (SPEC §12): a project indexed by the indexing kind, then
 * searched through MCP. (Before the search was merged this file stood a fake CodeSearchService
 * in; the real provider now comes first, so the fake was never asked.)
 */
describe('MCP search_code, when the code search exists', () => {
  let stack: TestStack;
  let client: Client;
  let api: Api;
  let projectId: string;
  const user = uniqueUser('searcher');
  const text = (result: CallToolResult) => (result.content[0] as { text: string }).text;
  const call = async (args: Record<string, unknown>) =>
    (await client.callTool({ name: 'search_code', arguments: args })) as CallToolResult;

  beforeAll(async () => {
    stack = await startStack('mcp-search', JOB_KINDS);
    api = new Api(stack, user);
    const project = await api.post('/projects', { name: 'code' });
    expect(project.status).toBe(201);
    projectId = (project.body as { id: string }).id;
    writeFiles(join(stack.config.workspacesDir, projectId), {
      'src/config.ts':
        '/** Reads the configuration. */\nexport function parseConfig(text: string) {\n  return text.trim();\n}\n',
    });
    client = new Client({ name: 'conveyor-test', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(
        new URL('/mcp', baseUrl(stack.app.getHttpServer() as Server)),
        { requestInit: { headers: { Authorization: `Bearer ${tokenFor(user)}` } } },
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
    const before = await call({ projectId, q: 'parseConfig' });
    expect(before.isError).toBeUndefined();
    expect(text(before)).toBe('the project has not been indexed');

    const submitted = await api.submit('indexing', { projectId, params: {} });
    expect(submitted.status).toBe(202);
    const job = await api.waitForStatus((submitted.body as { id: string }).id);
    expect(job.status).toBe('done');

    const result = await call({ projectId, q: 'parseConfig' });
    expect(result.isError).toBeUndefined();
    expect(text(result)).toMatch(
      /^src\/config\.ts:1-4 parseConfig\n.*export function parseConfig/s,
    );
    expect(result.structuredContent).toMatchObject({
      indexedAt: expect.any(String),
      items: [expect.objectContaining({ path: 'src/config.ts', symbol: 'parseConfig' })],
    });
  });

  it('refuses bad arguments and answers an unknown or foreign project as not found', async () => {
    expect(text(await call({ projectId, q: '   ' }))).toMatch(/q must be a non-blank string/);
    expect(text(await call({ projectId, q: 'x', limit: 51 }))).toMatch(
      /limit must be an integer from 1 to 50/,
    );
    expect(text(await call({ q: 'x' }))).toMatch(/projectId must be a string/);
    const unknown = await call({ projectId: 'p-other', q: 'x' });
    expect(unknown.isError).toBe(true);
    expect(text(unknown)).toMatch(/^refused \(404\): project p-other not found/);
    const other = await new Api(stack, uniqueUser('other')).post('/projects', { name: 'theirs' });
    const foreign = await call({ projectId: (other.body as { id: string }).id, q: 'x' });
    expect(text(foreign)).toMatch(/^refused \(404\)/);
  });
});
