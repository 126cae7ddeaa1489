import { paramsJsonSchema, resultJsonSchema } from '../../core/kind-schema';
import { testExecutionKind } from './test-execution.kind';

describe('the test-execution kind schemas', () => {
  it("test-execution's params: swagger's metadata made exact by its validators", () => {
    const schema = paramsJsonSchema(testExecutionKind);
    expect(schema).toMatchObject({
      type: 'object',
      additionalProperties: false,
      required: ['testCommand'],
      properties: {
        testCommand: { type: 'string', minLength: 1, maxLength: 2000 },
        files: { type: 'array', maxItems: 500, items: { type: 'string', maxLength: 1000 } },
        timeoutMs: { type: 'integer', minimum: 1000 },
      },
    });
  });

  it("test-execution's result comes from its result class", () => {
    const schema = resultJsonSchema(testExecutionKind);
    expect(schema).toMatchObject({
      type: 'object',
      properties: {
        exitCode: { type: 'integer', nullable: true },
        passed: { type: 'integer', nullable: true },
        outputTail: { type: 'string' },
      },
    });
    expect(schema?.required).toEqual(
      expect.arrayContaining(['exitCode', 'signal', 'passed', 'durationMs', 'outputTail']),
    );
  });
});
