import { testExecutionKind } from '../../src/kinds/test-execution/test-execution.kind';
import { startStack, type TestStack } from '../support/app';
import { echoKind } from '../support/test-kinds';
import { generateTypes, typecheck } from '../support/typecheck';

interface Operation {
  requestBody?: { content: Record<string, { schema: { $ref?: string } }> };
  responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }>;
}
interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Record<string, unknown>> };
}

/** A client as a developer would write it over the generated `paths`, no hand-written types. */
const CLIENT = `
import type { components, paths } from './api';

type Json<T> = T extends { content: { 'application/json': infer B } } ? B : never;
type SubmitPath = {
  [P in keyof paths]: paths[P] extends { post: { requestBody: unknown } } ? P : never;
}[keyof paths];
export type SubmitBody<P extends SubmitPath> = paths[P] extends {
  post: { requestBody?: infer R };
}
  ? Json<NonNullable<R>>
  : never;
export type Accepted<P extends SubmitPath> = paths[P] extends {
  post: { responses: { 202: infer R } };
}
  ? Json<R>
  : never;

export declare function submit<P extends SubmitPath>(path: P, body: SubmitBody<P>): Promise<Accepted<P>>;
export declare function getJob(id: string): Promise<components['schemas']['AnyJobView']>;
`;

const GOOD = `
import { getJob, submit } from './client';

export async function run(): Promise<(number | null)[]> {
  const job = await submit('/api/v1/jobs/test-execution', {
    projectId: 'p1',
    priority: 'high',
    params: { testCommand: 'npm test', files: ['test/a.spec.ts'], timeoutMs: 60000 },
  });
  const kind: 'test-execution' = job.kind;
  const passed: number | null = job.result ? job.result.passed : null;
  const echo = await submit('/api/v1/jobs/echo', { projectId: 'p1', params: { text: 'hi' } });
  const steps: number | undefined = echo.params.steps;
  const read = await getJob(job.id);
  const exit = read.kind === 'test-execution' && read.result ? read.result.exitCode : null;
  void kind;
  return [passed, exit, steps ?? null];
}
`;

const BAD: [string, string, RegExp][] = [
  [
    'a wrong type in the params',
    `submit('/api/v1/jobs/test-execution', { projectId: 'p', params: { testCommand: 42 } });`,
    /'number' is not assignable to type 'string'/,
  ],
  [
    'a missing required param',
    `submit('/api/v1/jobs/test-execution', { projectId: 'p', params: { files: [] } });`,
    /Property 'testCommand' is missing/,
  ],
  [
    "another kind's params",
    `submit('/api/v1/jobs/test-execution', { projectId: 'p', params: { text: 'hi' } });`,
    /'text' does not exist/,
  ],
  [
    'an unknown priority',
    `submit('/api/v1/jobs/echo', { projectId: 'p', priority: 'urgent', params: { text: 'x' } });`,
    /"urgent"/,
  ],
  [
    'a result field the kind does not have',
    `getJob('x').then((job) => (job.kind === 'test-execution' && job.result ? job.result.text : null));`,
    /Property 'text' does not exist/,
  ],
];

describe('OpenAPI per kind: a generated TypeScript client', () => {
  let stack: TestStack;
  let doc: OpenApiDocument;
  let api: string;

  beforeAll(async () => {
    stack = await startStack('openapi', [testExecutionKind, echoKind]);
    doc = (await stack.http().get('/docs-json').expect(200)).body as OpenApiDocument;
    api = await generateTypes(doc);
  });
  afterAll(() => stack.close());

  it('has one submit operation per registered kind, typed by the kind', () => {
    for (const [kind, prefix] of [
      ['test-execution', 'TestExecution'],
      ['echo', 'Echo'],
    ]) {
      const operation = doc.paths[`/api/v1/jobs/${kind}`]?.post;
      expect(operation?.requestBody?.content['application/json']?.schema.$ref).toBe(
        `#/components/schemas/${prefix}SubmitJob`,
      );
      expect(operation?.responses['202']?.content?.['application/json']?.schema.$ref).toBe(
        `#/components/schemas/${prefix}JobView`,
      );
    }
    expect(doc.components.schemas.TestExecutionResult).toMatchObject({
      properties: { exitCode: { type: 'integer', nullable: true } },
    });
    expect(doc.components.schemas.AnyJobView).toMatchObject({
      discriminator: { propertyName: 'kind' },
    });
  });

  it('compiles a client that submits and reads jobs with their typed params and results', async () => {
    const { errors } = await typecheck({ 'api.ts': api, 'client.ts': CLIENT, 'good.ts': GOOD });
    expect(errors).toEqual({ 'api.ts': [], 'client.ts': [], 'good.ts': [] });
  });

  it.each(BAD)('refuses to compile %s', async (_name, call, why) => {
    const bad = `import { getJob, submit } from './client';\nvoid getJob;\nvoid submit;\n${call}\n`;
    const { errors } = await typecheck({ 'api.ts': api, 'client.ts': CLIENT, 'bad.ts': bad });
    expect(errors['api.ts']).toEqual([]);
    expect(errors['bad.ts']?.join('\n')).toMatch(why);
  });
});
