import { join } from 'node:path';
import { JOB_KINDS } from '../../src/job-kinds';
import type { IndexingResult } from '../../src/kinds/indexing/indexing.result';
import { startStack, type TestStack } from '../support/app';
import { Api, expectError, uniqueUser } from '../support/api';
import { writeFiles } from '../support/code-index';

interface SearchBody {
  items: {
    path: string;
    startLine: number;
    endLine: number;
    symbol?: string;
    language?: string;
    snippet: string;
    score: number;
  }[];
  indexedAt: string | null;
}

describe('indexing kind and GET /projects/:id/search', () => {
  let stack: TestStack;
  let alice: Api;
  let bob: Api;
  let projectId: string;

  const createProject = async (api: Api): Promise<string> => {
    const res = await api.post('/projects', { name: 'code' });
    expect(res.status).toBe(201);
    return (res.body as { id: string }).id;
  };
  const index = async (params: object = {}) => {
    const res = await alice.submit('indexing', { projectId, params });
    expect({ status: res.status, body: res.body as unknown }).toMatchObject({ status: 202 });
    return alice.waitForStatus((res.body as { id: string }).id);
  };
  const search = (api: Api, id: string, query: Record<string, string | number>) =>
    api.get(`/projects/${id}/search`).query(query);

  beforeAll(async () => {
    stack = await startStack('indexing', JOB_KINDS);
    alice = new Api(stack, uniqueUser('alice'));
    bob = new Api(stack, uniqueUser('bob'));
    projectId = await createProject(alice);
    writeFiles(join(stack.config.workspacesDir, projectId), {
      'src/config.ts':
        '/** Reads the configuration. */\nexport function parseConfig(text: string) {\n  return text.trim();\n}\n',
      'lib/user_repository.py':
        'class UserRepository:\n    def find(self, user_id):\n        return self.rows[user_id]\n',
      'package-lock.json': '{}\n',
    });
  });

  afterAll(async () => {
    await stack?.close();
  });

  it('answers items: [] and indexedAt: null before the first run', async () => {
    const res = await search(alice, projectId, { q: 'parseConfig' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ items: [], indexedAt: null });
  });

  it('indexes the workspace as a job, reporting progress by files, then searches it', async () => {
    const job = await index();
    expect(job.status).toBe('done');
    const result = job.result as unknown as IndexingResult;
    expect(result).toMatchObject({
      files: { total: 3, indexed: 2, unchanged: 0, removed: 0, skipped: 1 },
      embedded: 0,
    });
    expect(result.files.skippedByReason.lockfile).toBe(1);
    const events = await alice.allEvents(job.id);
    expect(events.map((event) => event.message)).toContain('3 of 3 files');

    const res = await search(alice, projectId, { q: 'parseConfig', limit: 5 });
    expect(res.status).toBe(200);
    const body = res.body as SearchBody;
    expect(body.indexedAt).toEqual(expect.any(String));
    expect(body.items[0]).toMatchObject({
      path: 'src/config.ts',
      startLine: 1,
      endLine: 4,
      symbol: 'parseConfig',
      language: 'typescript',
      snippet: expect.stringContaining('export function parseConfig'),
      score: expect.any(Number),
    });
    const py = (await search(alice, projectId, { q: 'user_repository.find' })).body as SearchBody;
    expect(py.items[0]).toMatchObject({ path: 'lib/user_repository.py' });

    const again = await index();
    expect((again.result as unknown as IndexingResult).files).toMatchObject({
      indexed: 0,
      unchanged: 2,
    });
  });

  it("answers 404 for another user's project, an unknown one and a malformed id", async () => {
    expectError(
      await search(bob, projectId, { q: 'parseConfig' }),
      404,
      `project ${projectId} not found`,
    );
    expectError(await search(alice, '00000000-0000-4000-8000-000000000000', { q: 'x' }), 404);
    expectError(await search(alice, 'not-a-uuid', { q: 'x' }), 404);
    const bobsProject = await createProject(bob);
    expectError(await search(alice, bobsProject, { q: 'x' }), 404);
  });

  it.each([
    ['no q', {}, /q must be/],
    ['an empty q', { q: '' }, /q must be/],
    ['a blank q', { q: '   ' }, /q must not be blank/],
    ['a q over 500 characters', { q: 'x'.repeat(501) }, /q must be/],
    ['limit 0', { q: 'x', limit: 0 }, /limit must not be less than 1/],
    ['limit 51', { q: 'x', limit: 51 }, /limit must not be greater than 50/],
    ['a limit that is no number', { q: 'x', limit: 'ten' }, /limit must be an integer/],
    ['an unknown parameter', { q: 'x', other: 1 }, /other is not an allowed property/],
  ])('answers 400 for %s', async (_label, query, message) => {
    expectError(await search(alice, projectId, query), 400, message);
  });

  it('answers 400 for bad indexing params', async () => {
    for (const [params, message] of [
      [{ fullReindex: 'yes' }, /params.fullReindex must be a boolean/],
      [{ include: 'src/**' }, /params.include must be an array/],
      [{ exclude: [''] }, /params.exclude/],
    ] as const) {
      expectError(await alice.submit('indexing', { projectId, params }), 400, message);
    }
  });
});
