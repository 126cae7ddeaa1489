import 'reflect-metadata';
import {
  BadRequestException,
  ValidationPipe,
  type ArgumentMetadata,
  type Type,
} from '@nestjs/common';
import { instanceToPlain, plainToInstance } from 'class-transformer';
import { validate, type ValidationError, type ValidatorOptions } from 'class-validator';
import {
  describeValidationErrors,
  inputProblem,
  nullErrors,
  validateParams,
  VALIDATION_OPTIONS,
} from '../src/common/params-validation';
import { SubmitJobDto } from '../src/core/dto/submit-job.dto';
import { createValidationPipe } from '../src/http/validation';
import { CodeGenerationParams } from '../src/kinds/code-generation/code-generation.params';
import { EchoParams } from '../test/support/test-kinds';
import { BenchParams } from './bench.kind';

/*
 * Validation per submit, old path against compiled (src/common/compiled-validation.ts):
 * µs per call over N calls after a warm-up.
 *   npx ts-node --transpile-only bench/validation-micro.ts [iterations]
 */

/** The global pipe as it was: class-transformer and class-validator on every value. */
class ReflectingPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const problem = inputProblem(value);
    if (problem) throw new BadRequestException(problem);
    return super.transform(value, metadata) as Promise<unknown>;
  }

  protected override async validate(
    object: object,
    validatorOptions?: ValidatorOptions,
  ): Promise<ValidationError[]> {
    return [...nullErrors(object), ...(await super.validate(object, validatorOptions))];
  }
}

/** validateParams as it was. */
async function reflectingParams(type: Type<object>, raw: Record<string, unknown>) {
  const problem = inputProblem(raw, 'params');
  if (problem) throw new BadRequestException(problem);
  const instance = plainToInstance(type, raw);
  const errors = [...nullErrors(instance), ...(await validate(instance, VALIDATION_OPTIONS))];
  if (errors.length > 0) throw new BadRequestException(describeValidationErrors(errors, 'params'));
  return instanceToPlain(instance);
}

const iterations = Number(process.argv[2] ?? 100_000);
const oldPipe = new ReflectingPipe({
  ...VALIDATION_OPTIONS,
  transform: true,
  exceptionFactory: (errors) => new BadRequestException(describeValidationErrors(errors)),
});
const newPipe = createValidationPipe();
const body: ArgumentMetadata = { type: 'body', metatype: SubmitJobDto, data: undefined };

async function microseconds(run: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < Math.min(iterations, 10_000); i += 1) await run();
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i += 1) await run();
  return Number(process.hrtime.bigint() - start) / 1000 / iterations;
}

async function main() {
  const submit = {
    projectId: 'project-1',
    params: { text: 'hello', steps: 3, stepMs: 10 },
    priority: 'high',
    requestId: 'req-1',
  };
  const cases: [string, () => Promise<unknown>, () => Promise<unknown>][] = [
    [
      'submit body (SubmitJobDto, pipe)',
      () => oldPipe.transform(submit, body),
      () => newPipe.transform(submit, body),
    ],
    [
      'EchoParams (validateParams)',
      () => reflectingParams(EchoParams, { text: 'hello', steps: 3, stepMs: 10 }),
      () => validateParams(EchoParams, { text: 'hello', steps: 3, stepMs: 10 }),
    ],
    [
      'BenchParams (validateParams)',
      () => reflectingParams(BenchParams, { n: 5 }),
      () => validateParams(BenchParams, { n: 5 }),
    ],
    [
      'CodeGenerationParams (validateParams, nested context)',
      () =>
        reflectingParams(CodeGenerationParams, {
          prompt: 'Add a greeting endpoint',
          files: ['src/app.ts', 'src/main.ts'],
          maxOutputTokens: 2000,
          temperature: 0.2,
          context: { search: true, limit: 8 },
        }),
      () =>
        validateParams(CodeGenerationParams, {
          prompt: 'Add a greeting endpoint',
          files: ['src/app.ts', 'src/main.ts'],
          maxOutputTokens: 2000,
          temperature: 0.2,
          context: { search: true, limit: 8 },
        }),
    ],
    [
      'invalid EchoParams (both go the old way)',
      () => reflectingParams(EchoParams, { text: 1 }).catch(() => undefined),
      () => validateParams(EchoParams, { text: 1 }).catch(() => undefined),
    ],
  ];
  console.log(`${iterations} iterations, µs per validation (old → compiled)`);
  for (const [name, old, compiled] of cases) {
    const before = await microseconds(old);
    const after = await microseconds(compiled);
    console.log(
      `${name.padEnd(56)} ${before.toFixed(2).padStart(7)} → ${after.toFixed(2).padStart(6)}  (×${(before / after).toFixed(1)})`,
    );
  }
}

void main();
