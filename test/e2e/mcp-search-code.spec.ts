import type { Server } from 'node:http';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CallToolResultSchema,
  type CallToolResult,
  type Progress,
} from '@modelcontextprotocol/sdk/types.js';
import { JOB_KINDS } from '../../src/job-kinds';
import type { IndexingResult } from '../../src/kinds/indexing/indexing.result';
import type { SearchResultView } from '../../src/search/dto/search.view';
import { Api, uniqueUser } from '../support/api';
import { startStack, tokenFor, type TestStack } from '../support/app';
import { writeFiles } from '../support/code-index';
import { baseUrl } from '../support/socket';

interface JobOutcome {
  jobId: string;
  status: string;
  result?: IndexingResult;
  error?: string;
}

function textOf(result: CallToolResult): string {
  const first = result.content[0];
  return first?.type === 'text' ? first.text : '';
}

describe('MCP search_code over the real code search', () => {
  let stack: TestStack;
  const clients: Client[] = [];
  const alice = uniqueUser('alice');
  const bob = uniqueUser('bob');
  let projectId: string;
  let aliceClient: Client;

  async function connect(user: string): Promise<Client> {
    const client = new Client({ name: 'conveyor-test', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(
        new URL('/mcp', baseUrl(stack.app.getHttpServer() as Server)),
        { requestInit: { headers: { Authorization: `Bearer ${tokenFor(user)}` } } },
      ),
    );
    clients.push(client);
    return client;
  }

  async function call(
    client: Client,
    name: string,
    args: Record<string, unknown>,
  ): Promise<CallToolResult> {
    return (await client.callTool({ name, arguments: args })) as CallToolResult;
  }

  async function createProject(user: string): Promise<string> {
    const res = await new Api(stack, user).post('/projects', { name: 'code' });
    expect({ status: res.status, body: res.body as unknown }).toMatchObject({ status: 201 });
    return (res.body as { id: string }).id;
  }

  beforeAll(async () => {
    stack = await startStack('mcp-search', JOB_KINDS);
    projectId = await createProject(alice);
    writeFiles(join(stack.config.workspacesDir, projectId), {
      'src/config.ts':
        '/** Reads the configuration. */\nexport function parseConfig(text: string) {\n  return text.trim();\n}\n',
      'src/session/session-store.ts':
        'export class SessionStore {\n  refresh(id: string): string {\n    return id;\n  }\n}\n',
      'lib/user_repository.py':
        'class UserRepository:\n    def find(self, user_id):\n        return self.rows[user_id]\n',
    });
    aliceClient = await connect(alice);
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
    await stack?.close();
  });

  it('answers a project never indexed with no hits and indexedAt null', async () => {
    const result = await call(aliceClient, 'search_code', { projectId, q: 'parseConfig' });
    expect(result.isError).toBeUndefined();
    expect(textOf(result)).toBe('the project has not been indexed');
    expect(result.structuredContent).toEqual({ items: [], indexedAt: null });
  });

  it('finds a function after the indexing tool ran the workspace to done', async () => {
    const progress: Progress[] = [];
    const indexed = (await aliceClient.callTool(
      { name: 'indexing', arguments: { projectId } },
      CallToolResultSchema,
      { onprogress: (p) => progress.push(p), resetTimeoutOnProgress: true },
    )) as CallToolResult;
    const outcome = indexed.structuredContent as unknown as JobOutcome;
    expect(outcome).toMatchObject({ status: 'done' });
    expect(indexed.isError).toBe(false);
    expect(outcome.result?.files).toMatchObject({ total: 3, indexed: 3, skipped: 0 });
    expect(progress.length).toBeGreaterThan(0);
    expect(await new Api(stack, alice).job(outcome.jobId)).toMatchObject({
      kind: 'indexing',
      status: 'done',
      projectId,
    });

    const found = await call(aliceClient, 'search_code', { projectId, q: 'parseConfig' });
    expect(found.isError).toBeUndefined();
    const body = found.structuredContent as unknown as SearchResultView;
    expect(body.indexedAt).toEqual(expect.any(String));
    expect(body.items[0]).toMatchObject({
      path: 'src/config.ts',
      startLine: 1,
      endLine: 4,
      symbol: 'parseConfig',
      language: 'typescript',
      snippet: expect.stringContaining('export function parseConfig'),
    });
    expect(textOf(found)).toMatch(
      /^src\/config\.ts:1-4 parseConfig\n\/\*\* Reads the configuration\. \*\/\nexport function parseConfig/,
    );

    const limited = await call(aliceClient, 'search_code', {
      projectId,
      q: 'user_repository.find',
      limit: 1,
    });
    const py = limited.structuredContent as unknown as SearchResultView;
    expect(py.items).toHaveLength(1);
    expect(py.items[0]).toMatchObject({ path: 'lib/user_repository.py' });

    const partial = await call(aliceClient, 'search_code', { projectId, q: 'SessionStor' });
    expect((partial.structuredContent as unknown as SearchResultView).items[0]).toMatchObject({
      path: 'src/session/session-store.ts',
    });
  });

  it("answers another user's, an unknown and a malformed project as not found", async () => {
    const bobClient = await connect(bob);
    const foreign = await call(bobClient, 'search_code', { projectId, q: 'parseConfig' });
    expect(foreign.isError).toBe(true);
    expect(textOf(foreign)).toBe(`refused (404): project ${projectId} not found`);
    expect(foreign.structuredContent).toBeUndefined();

    const bobsProject = await createProject(bob);
    const theirs = await call(aliceClient, 'search_code', { projectId: bobsProject, q: 'x' });
    expect(textOf(theirs)).toBe(`refused (404): project ${bobsProject} not found`);
    const unknown = '00000000-0000-4000-8000-000000000000';
    expect(textOf(await call(aliceClient, 'search_code', { projectId: unknown, q: 'x' }))).toBe(
      `refused (404): project ${unknown} not found`,
    );
    expect(
      textOf(await call(aliceClient, 'search_code', { projectId: 'not-a-uuid', q: 'x' })),
    ).toBe('refused (404): project not-a-uuid not found');
  });

  it.each([
    [
      'no projectId',
      { projectId: undefined, q: 'x' },
      /^refused \(400\): projectId must be a string of 1-200/,
    ],
    ['a projectId that is a number', { projectId: 7, q: 'x' }, /^refused \(400\): projectId must/],
    ['no q', {}, /^refused \(400\): q must be a non-blank string/],
    ['a blank q', { q: '   ' }, /^refused \(400\): q must be a non-blank string/],
    ['a q over 500 characters', { q: 'x'.repeat(501) }, /^refused \(400\): q must be/],
    ['limit 0', { q: 'x', limit: 0 }, /^refused \(400\): limit must be an integer from 1 to 50/],
    ['limit 51', { q: 'x', limit: 51 }, /^refused \(400\): limit must be an integer from 1 to 50/],
    ['a limit that is no number', { q: 'x', limit: '5' }, /^refused \(400\): limit must be/],
    ['an unknown argument', { q: 'x', other: 1 }, /^refused \(400\): other is not an allowed/],
  ])('refuses %s, naming the field', async (_label, args, message) => {
    const result = await call(aliceClient, 'search_code', { projectId, ...args });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(message);
  });
});
