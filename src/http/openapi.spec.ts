import type { OpenAPIObject } from '@nestjs/swagger';
import { testExecutionKind } from '../kinds/test-execution/test-execution.kind';
import { addKindOperations, kindSchemaPrefix } from './openapi';

function skeleton(): OpenAPIObject {
  return {
    openapi: '3.0.0',
    info: { title: 't', version: '1' },
    paths: {
      '/api/v1/jobs/{kind}': {
        post: {
          tags: ['jobs'],
          security: [{ bearer: [] }],
          parameters: [
            { name: 'kind', in: 'path', required: true, schema: { type: 'string' } },
            { name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string' } },
          ],
          responses: { 202: { description: 'ok' } },
        },
      },
    },
    components: {
      schemas: { JobView: { type: 'object', properties: { kind: { type: 'string' } } } },
    },
  };
}

describe('OpenAPI per kind', () => {
  it('names schemas after the kind', () => {
    expect(kindSchemaPrefix('test-execution')).toBe('TestExecution');
    expect(kindSchemaPrefix('pr-creation')).toBe('PrCreation');
  });

  it('gives an external kind an operation with free-form params and result', () => {
    const doc = skeleton();
    addKindOperations(doc, { kinds: [testExecutionKind], externalKinds: ['rebalance'] });
    const schemas = doc.components?.schemas ?? {};
    expect(schemas.RebalanceParams).toMatchObject({ type: 'object', additionalProperties: true });
    expect(schemas.RebalanceJobView).toMatchObject({
      properties: {
        kind: { enum: ['rebalance'] },
        result: { type: 'object', nullable: true, additionalProperties: true },
      },
    });
    const operation = doc.paths['/api/v1/jobs/rebalance']?.post;
    expect(operation?.operationId).toBe('submit_rebalance');
    expect(operation?.parameters).toEqual([
      { name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string' } },
    ]);
    expect(Object.keys(doc.paths)).toContain('/api/v1/jobs/test-execution');
    expect(schemas.AnyJobView).toMatchObject({
      discriminator: {
        propertyName: 'kind',
        mapping: {
          'test-execution': '#/components/schemas/TestExecutionJobView',
          rebalance: '#/components/schemas/RebalanceJobView',
        },
      },
    });
  });

  it('does not let an external name shadow a registered kind', () => {
    const doc = skeleton();
    addKindOperations(doc, { kinds: [testExecutionKind], externalKinds: ['test-execution'] });
    expect(doc.components?.schemas?.TestExecutionParams).toMatchObject({
      additionalProperties: false,
      required: ['testCommand'],
    });
  });
});
