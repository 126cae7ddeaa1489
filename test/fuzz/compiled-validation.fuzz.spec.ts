import type { Type } from '@nestjs/common';
import fc from 'fast-check';
import { BenchParams } from '../../bench/bench.kind';
import { compiledDto } from '../../src/common/compiled-validation';
import { SubmitJobDto } from '../../src/core/dto/submit-job.dto';
import { classJsonSchema } from '../../src/core/kind-schema';
import { CleanQueueDto, JobEventsQuery, ListJobsQuery } from '../../src/http/dto/list-jobs.query';
import { UsageQuery } from '../../src/http/dto/usage.view';
import { createValidationPipe } from '../../src/http/validation';
import { CreateProjectDto } from '../../src/projects/dto/create-project.dto';
import { ProjectCredentialsDto } from '../../src/projects/dto/project-credentials.dto';
import { SearchQuery } from '../../src/search/dto/search.query';
import { ChangeParams } from '../../src/kinds/change/change.params';
import { CodeGenerationParams } from '../../src/kinds/code-generation/code-generation.params';
import { IndexingParams } from '../../src/kinds/indexing/indexing.params';
import { PrCreationParams } from '../../src/kinds/pr-creation/pr-creation.params';
import { TestExecutionParams } from '../../src/kinds/test-execution/test-execution.params';
import { CountedParams, StepsParams } from '../support/child-kinds';
import { ChatterParams } from '../support/output-kinds';
import { EchoParams } from '../support/test-kinds';
import {
  compareBody,
  compareParams,
  hasSpecialKey,
  type Comparison,
} from '../support/validation-differential';
import { WorkspaceEchoParams } from '../support/workspace-kinds';
import { fuzzSettings } from './fuzz-settings';
import { mutatedValue, validValue, type Schema } from './schema-arbitraries';

/*
 * The compiled validation (src/common/compiled-validation.ts) against the path it shortcuts, on
 * every real DTO: values generated from each class's schema, valid and one thing wrong, must end
 * the same either way (the same value, key order and classes included, or the same message), the
 * compiled check must never accept what class-validator refuses, and it must accept every valid
 * value (but those holding a key class-transformer drops, which it leaves to the old path).
 */

const settings = fuzzSettings();
// In-process and cheap: many more values than the HTTP fuzzer's requests.
const RUNS = Math.max(settings.runs * 25, 300);

const pipe = createValidationPipe();

const PARAMS: [string, Type<object>][] = [
  ['ChangeParams', ChangeParams],
  ['CodeGenerationParams', CodeGenerationParams],
  ['IndexingParams', IndexingParams],
  ['PrCreationParams', PrCreationParams],
  ['TestExecutionParams', TestExecutionParams],
  ['EchoParams', EchoParams],
  ['BenchParams', BenchParams],
  ['CountedParams', CountedParams],
  ['StepsParams', StepsParams],
  ['ChatterParams', ChatterParams],
  ['WorkspaceEchoParams', WorkspaceEchoParams],
];

function schemaOf(type: Type<object>): Schema {
  return classJsonSchema(type, true);
}

async function differential(
  schema: Schema,
  compare: (raw: unknown) => Promise<Comparison>,
): Promise<{ accepted: number; compiled: number }> {
  const counts = { accepted: 0, compiled: 0 };
  await fc.assert(
    fc.asyncProperty(mutatedValue(schema, {}), async (raw) => {
      const { old, compiledAccepted } = await compare(raw);
      if (old.ok && !hasSpecialKey(raw)) counts.accepted += 1;
      if (compiledAccepted && !hasSpecialKey(raw)) counts.compiled += 1;
    }),
    { seed: settings.seed, numRuns: RUNS },
  );
  await fc.assert(
    fc.asyncProperty(validValue(schema, {}), async (raw) => {
      const { old, compiledAccepted } = await compare(raw);
      if (old.ok && !compiledAccepted && !hasSpecialKey(raw)) {
        throw new Error(`compiled refused a valid value: ${JSON.stringify(raw)}`);
      }
    }),
    { seed: settings.seed, numRuns: RUNS },
  );
  return counts;
}

describe(`compiled validation against class-validator (seed ${settings.seed})`, () => {
  it.each(PARAMS)('%s: compiled, and validateParams ends the same', async (_name, type) => {
    expect(compiledDto(type)).not.toBeNull();
    const counts = await differential(schemaOf(type), (raw) => compareParams(type, raw));
    // Accepted values take the compiled path; refused ones all go the old way.
    expect(counts.compiled).toBe(counts.accepted);
  });

  it('SubmitJobDto: compiled, and the global pipe ends the same', async () => {
    expect(compiledDto(SubmitJobDto)).not.toBeNull();
    const counts = await differential(schemaOf(SubmitJobDto), (raw) =>
      compareBody(pipe, SubmitJobDto, raw),
    );
    expect(counts.compiled).toBe(counts.accepted);
  });

  it.each([
    ['CreateProjectDto', CreateProjectDto],
    ['ProjectCredentialsDto', ProjectCredentialsDto],
    ['CleanQueueDto', CleanQueueDto],
    ['UsageQuery', UsageQuery],
  ] as [string, Type<object>][])(
    '%s: compiled, and the global pipe ends the same',
    async (_name, type) => {
      expect(compiledDto(type)).not.toBeNull();
      const counts = await differential(schemaOf(type), (raw) => compareBody(pipe, type, raw));
      expect(counts.compiled).toBe(counts.accepted);
    },
  );

  it.each([
    ['ListJobsQuery', ListJobsQuery],
    ['JobEventsQuery', JobEventsQuery],
    ['SearchQuery', SearchQuery],
  ] as [string, Type<object>][])(
    '%s: @Type(() => Number) converts, so it is not compiled',
    (_name, type) => {
      expect(compiledDto(type)).toBeNull();
    },
  );

  it('SubmitJobDto: free-form params with hostile keys and values end the same', async () => {
    const params = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }),
      fc.dictionary(
        fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'a', ''),
        fc.jsonValue({ maxDepth: 2 }),
      ),
    );
    await fc.assert(
      fc.asyncProperty(params, async (value) => {
        // As a JSON parser makes it: "__proto__" an own key like any other.
        const body: unknown = JSON.parse(JSON.stringify({ projectId: 'p', params: { value } }));
        await compareBody(pipe, SubmitJobDto, body);
        await compareBody(pipe, SubmitJobDto, { projectId: 'p', params: value });
      }),
      { seed: settings.seed, numRuns: RUNS },
    );
  });
});
