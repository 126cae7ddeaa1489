import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { startStack, type TestStack } from '../support/app';
import { generateTypes } from '../support/typecheck';
import { echoKind } from '../support/test-kinds';

const ROOT = resolve(__dirname, '../..');

/**
 * The client's types are the api's DTOs: each is checked, both ways, against the schema the
 * served OpenAPI document gives it (generated into TypeScript by openapi-typescript).
 */
const CHECK = `
import type { components } from './api';
import type {
  AdminUsage,
  ErrorBody,
  Job,
  JobEvent,
  KindInfo,
  Page,
  Project,
  QueueStats,
  Usage,
} from './client';

type S = components['schemas'];
type Both<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Fits<A, B> = [A] extends [B] ? true : false;
type JobAsServed = Job<Record<string, unknown>, Record<string, unknown>>;

export const checks: true[] = [
  true as Both<QueueStats, S['QueueStatsView']>,
  true as Both<Project, S['ProjectView']>,
  true as Both<KindInfo, S['KindView']>,
  true as Both<ErrorBody, S['ErrorView']>,
  true as Both<Omit<JobEvent, 'output'>, Omit<S['JobEventViewDto'], 'output'>>,
  true as Both<JobAsServed, S['JobView']>,
  true as Fits<S['EchoJobView'], Job<S['EchoParams'], S['EchoParams'] | Record<string, unknown>>>,
  true as Both<Page<JobEvent>['nextCursor'], S['JobEventPageView']['nextCursor']>,
  true as Both<Usage, S['UsageView']>,
  true as Both<AdminUsage, S['AdminUsageView']>,
];
// The check can fail: one field less is told apart.
export const differs: false = false as Both<QueueStats, Omit<S['QueueStatsView'], 'failed'>>;
`;

describe('client types against the served OpenAPI document', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack('client-types', [echoKind]);
  });
  afterAll(() => stack.close());

  it('every shape of the client equals the DTO the api serves', async () => {
    const doc: unknown = (await stack.http().get('/docs-json').expect(200)).body;
    // Inside the repository so that socket.io-client resolves from its node_modules.
    await mkdir(join(ROOT, 'test-output'), { recursive: true });
    const dir = await mkdtemp(join(ROOT, 'test-output', 'client-types-'));
    try {
      const files = {
        'api.ts': await generateTypes(doc),
        'client.ts': await readFile(join(ROOT, 'client', 'src', 'types.ts'), 'utf8'),
        'check.ts': CHECK,
      };
      for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
      const program = ts.createProgram([join(dir, 'check.ts')], {
        strict: true,
        noEmit: true,
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.CommonJS,
        moduleResolution: ts.ModuleResolutionKind.Node10,
        lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
        types: [],
        skipLibCheck: true,
      });
      const errors = ts.getPreEmitDiagnostics(program).map((d) => {
        const where =
          d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : null;
        const text = d.file && where ? d.file.text.split('\n')[where.line]?.trim() : '';
        return `${text}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
      });
      expect(errors).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
