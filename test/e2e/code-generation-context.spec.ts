import { join } from 'node:path';
import { JOB_KINDS } from '../../src/job-kinds';
import type { CodeGenerationResult } from '../../src/kinds/code-generation/code-generation.result';
import { startStack, type TestStack } from '../support/app';
import { Api, expectError, uniqueUser, type JobBody } from '../support/api';
import { writeFiles } from '../support/code-index';
import { startFakeLlm, type FakeLlmServer } from '../support/fake-llm/fake-llm-server';

const KIND = 'code-generation';

const INVOICE = [
  '/** The total of an invoice, in cents. */',
  'export function invoiceTotalCents(lines: { priceCents: number; quantity: number }[]) {',
  '  return lines.reduce((sum, line) => sum + line.priceCents * line.quantity, 0);',
  '}',
  '',
].join('\n');

const UNRELATED = {
  'src/greeting.ts': "export function greet(name: string) {\n  return 'hello ' + name;\n}\n",
  'src/colors.py': 'def mix_colors(first, second):\n    return (first + second) / 2\n',
};

const PROMPT = 'Make invoiceTotalCents skip lines whose quantity is negative';

/** The user message of a recorded Chat Completions request. */
function userMessage(body: Record<string, unknown>): string {
  const messages = body.messages as { role: string; content: unknown }[];
  const user = messages.find((message) => message.role === 'user');
  return typeof user?.content === 'string' ? user.content : JSON.stringify(user?.content);
}

describe('code-generation with context from code search (e2e: real index, loopback provider)', () => {
  let stack: TestStack;
  let api: Api;
  let llm: FakeLlmServer;

  beforeAll(async () => {
    llm = await startFakeLlm('openai-chat', { tokens: ['No changes needed.'] });
    stack = await startStack('codegen-context', JOB_KINDS, {
      LLM_PROVIDERS: 'openai-compatible',
      OPENAI_COMPATIBLE_BASE_URL: llm.baseURL,
      OPENAI_COMPATIBLE_MODEL: 'local-e2e',
    });
    api = new Api(stack, uniqueUser('context'));
  });

  afterAll(async () => {
    await stack?.close();
    await llm?.close();
  });

  async function project(files: Record<string, string>): Promise<string> {
    const res = await api.post('/projects', { name: 'context' });
    expect(res.status).toBe(201);
    const id = (res.body as { id: string }).id;
    writeFiles(join(stack.config.workspacesDir, id), files);
    return id;
  }

  async function run(projectId: string, kind: string, params: object): Promise<JobBody> {
    const res = await api.submit(kind, { projectId, params });
    expect({ status: res.status, body: res.body as unknown }).toMatchObject({ status: 202 });
    const job = await api.waitForStatus((res.body as JobBody).id);
    expect({ status: job.status, error: job.error }).toEqual({ status: 'done', error: null });
    return job;
  }

  const generate = async (projectId: string, params: object) => {
    const job = await run(projectId, KIND, params);
    return { job, result: job.result as unknown as CodeGenerationResult };
  };

  it('gives the model the chunk that answers the prompt, with its path and lines, and lists it', async () => {
    const projectId = await project({ 'src/invoice.ts': INVOICE, ...UNRELATED });
    await run(projectId, 'indexing', {});
    const before = llm.requests.length;
    const { result } = await generate(projectId, {
      prompt: PROMPT,
      context: { search: true, limit: 2 },
    });

    expect(result.contextChunks[0]).toEqual({ path: 'src/invoice.ts', startLine: 1, endLine: 4 });
    expect(result.contextChunks.length).toBeLessThanOrEqual(2);
    expect(llm.requests).toHaveLength(before + 1);
    const sent = userMessage(llm.requests.at(-1)!.body);
    expect(sent).toContain(`<excerpt path="src/invoice.ts" lines="1-4">\n${INVOICE}</excerpt>`);
    expect(sent.endsWith(`Request:\n${PROMPT}`)).toBe(true);
    for (const chunk of result.contextChunks) {
      expect(sent).toContain(
        `<excerpt path="${chunk.path}" lines="${chunk.startLine}-${chunk.endLine}">`,
      );
    }
  });

  it('is answered from the cache over the same index, and not once the index changed', async () => {
    const projectId = await project({ 'src/invoice.ts': INVOICE, ...UNRELATED });
    await run(projectId, 'indexing', {});
    const params = {
      prompt: `${PROMPT} (cache)`,
      context: { search: true, query: 'invoiceTotal' },
    };
    const first = await generate(projectId, params);
    const again = await generate(projectId, params);
    expect([first.result.cached, again.result.cached]).toEqual([false, true]);
    expect(again.result.contextChunks).toEqual(first.result.contextChunks);

    const changed = INVOICE.replace('0);', '0) + 0;');
    writeFiles(join(stack.config.workspacesDir, projectId), { 'src/invoice.ts': changed });
    await run(projectId, 'indexing', {});
    const before = llm.requests.length;
    const after = await generate(projectId, params);
    expect(after.result.cached).toBe(false);
    expect(llm.requests).toHaveLength(before + 1);
    expect(userMessage(llm.requests.at(-1)!.body)).toContain(changed);
  });

  it('a named file is given whole and not again as a chunk', async () => {
    const projectId = await project({ 'src/invoice.ts': INVOICE, ...UNRELATED });
    await run(projectId, 'indexing', {});
    const { result } = await generate(projectId, {
      prompt: PROMPT,
      files: ['src/invoice.ts'],
      context: { search: true },
    });
    expect(result.contextChunks.map((chunk) => chunk.path)).not.toContain('src/invoice.ts');
    expect(userMessage(llm.requests.at(-1)!.body)).toContain(
      `<file path="src/invoice.ts">\n${INVOICE}</file>`,
    );
  });

  it('a project without an index: no chunks, and the log says so', async () => {
    const projectId = await project({ 'src/invoice.ts': INVOICE });
    const { job, result } = await generate(projectId, {
      prompt: PROMPT,
      context: { search: true },
    });
    expect(result.contextChunks).toEqual([]);
    expect(userMessage(llm.requests.at(-1)!.body)).toBe(PROMPT);
    const log = await api.get(`/jobs/${job.id}/log`);
    expect(log.text).toContain('context.search: the project has no code index');
  });

  it('without context.search: no search, contextChunks []', async () => {
    const projectId = await project({ 'src/invoice.ts': INVOICE });
    await run(projectId, 'indexing', {});
    const { result } = await generate(projectId, { prompt: `${PROMPT} (no search)` });
    expect(result.contextChunks).toEqual([]);
    expect(userMessage(llm.requests.at(-1)!.body)).toBe(`${PROMPT} (no search)`);
  });

  it.each([
    [{ limit: 0 }, /params\.context\.limit must not be less than 1/],
    [{ limit: 51 }, /params\.context\.limit must not be greater than 50/],
    [{ limit: 2.5 }, /params\.context\.limit must be an integer/],
    [{ search: 'yes' }, /params\.context\.search must be a boolean/],
    [{ query: '' }, /params\.context\.query/],
    [{ query: '   ' }, /params\.context\.query must not be blank/],
    [{ search: true, depth: 2 }, /params\.context\.depth is not an allowed property/],
    ['everything', /params\.context/],
  ])('context %j answers 400 naming the field', async (context, message) => {
    const projectId = await project({});
    expectError(
      await api.submit(KIND, { projectId, params: { prompt: 'x', context } }),
      400,
      message,
    );
  });
});
