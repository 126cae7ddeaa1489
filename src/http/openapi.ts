import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import type {
  OperationObject,
  PathItemObject,
  ReferenceObject,
  SchemaObject,
} from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import { SubmitJobDto } from '../core/dto/submit-job.dto';
import type { JobKind } from '../core/job.types';
import {
  classJsonSchema,
  describeDefault,
  FREE_FORM_PARAMS,
  FREE_FORM_RESULT,
  paramsJsonSchema,
  resultJsonSchema,
  type JsonSchemaObject,
} from '../core/kind-schema';

/** What the document says about submitting: the registered kinds and the external ones. */
export interface DocumentedKinds {
  readonly kinds: readonly JobKind[];
  readonly externalKinds?: readonly string[];
}

const JSON_TYPE = 'application/json';
const ref = (name: string): ReferenceObject => ({ $ref: `#/components/schemas/${name}` });
const asSchema = (schema: JsonSchemaObject): SchemaObject => schema;

/** "test-execution" → "TestExecution": the prefix of a kind's schema names. */
export function kindSchemaPrefix(kind: string): string {
  return kind
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}

/**
 * The served OpenAPI document: the controllers' routes, plus one submit operation per kind
 * (params and result from the kind's schema), job reads answering a JobView discriminated by
 * kind, and every operation's errors in the shape of docs/errors.md.
 */
export function buildOpenApiDocument(
  app: INestApplication,
  documented: DocumentedKinds,
): OpenAPIObject {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Conveyor')
      .setDescription('Background jobs for an AI coding platform')
      .setVersion('1')
      .addBearerAuth()
      .build(),
  );
  addKindOperations(document, documented);
  return document;
}

interface KindEntry {
  readonly name: string;
  readonly params: JsonSchemaObject;
  readonly result: JsonSchemaObject | null;
}

function kindEntries({ kinds, externalKinds = [] }: DocumentedKinds): KindEntry[] {
  const registered = kinds.map((kind) => ({
    name: kind.name,
    params: paramsJsonSchema(kind),
    result: resultJsonSchema(kind),
  }));
  const external = externalKinds
    .filter((name) => !kinds.some((kind) => kind.name === name))
    .map((name) => ({ name, params: { ...FREE_FORM_PARAMS }, result: null }));
  return [...registered, ...external];
}

export function addKindOperations(document: OpenAPIObject, documented: DocumentedKinds): void {
  const schemas = (document.components ??= {}).schemas ?? {};
  document.components.schemas = schemas;
  schemas.ErrorView = {
    type: 'object',
    description: 'Every error: the status, its name and what is wrong (the field and why)',
    properties: {
      statusCode: { type: 'integer', example: 400 },
      error: { type: 'string', example: 'Bad Request' },
      message: { type: 'string', example: 'params.testCommand must be a string' },
    },
    required: ['statusCode', 'error', 'message'],
  };

  const entries = kindEntries(documented);
  const generic = document.paths['/api/v1/jobs/{kind}']?.post;
  const submit = asSchema(classJsonSchema(SubmitJobDto, true));
  const view = (schemas.JobView ?? { type: 'object', properties: {} }) as SchemaObject;
  for (const entry of entries) {
    const prefix = kindSchemaPrefix(entry.name);
    schemas[`${prefix}Params`] = asSchema(entry.params);
    if (entry.result) schemas[`${prefix}Result`] = asSchema(entry.result);
    schemas[`${prefix}SubmitJob`] = {
      ...submit,
      properties: { ...submit.properties, params: ref(`${prefix}Params`) },
    };
    schemas[`${prefix}JobView`] = {
      ...view,
      properties: {
        ...view.properties,
        kind: { type: 'string', enum: [entry.name] },
        params: ref(`${prefix}Params`),
        result: entry.result
          ? { nullable: true, allOf: [ref(`${prefix}Result`)] }
          : { ...FREE_FORM_RESULT, nullable: true },
      },
    };
    const event = schemas.JobEventViewDto as SchemaObject | undefined;
    if (event) {
      schemas[`${prefix}JobEvent`] = {
        ...event,
        properties: {
          ...event.properties,
          kind: { type: 'string', enum: [entry.name] },
          result: entry.result ? ref(`${prefix}Result`) : { ...FREE_FORM_RESULT },
        },
      };
    }
    document.paths[`/api/v1/jobs/${entry.name}`] = {
      post: submitOperation(entry.name, prefix, generic),
    };
  }

  if (entries.length > 0) {
    schemas.AnyJobView = discriminated(entries, 'JobView');
    if (schemas.JobEventViewDto) {
      schemas.AnyJobEvent = discriminated(entries, 'JobEvent');
      const events = schemas.JobEventPageView as SchemaObject | undefined;
      if (events?.properties) {
        events.properties.items = { type: 'array', items: ref('AnyJobEvent') };
      }
    }
    retypeJobReads(document);
  }
  if (generic) {
    generic.summary = 'Submit a job of a kind named in the path';
    generic.description =
      'Each kind also has its own operation, POST /api/v1/jobs/<kind>, with its params typed.';
  }
  addErrorResponses(document);
  describeRequestDefaults(document);
}

/** Request bodies' defaults in words (see describeDefault), for the controllers' own DTOs too. */
function describeRequestDefaults(document: OpenAPIObject): void {
  const schemas = document.components?.schemas ?? {};
  for (const item of Object.values(document.paths)) {
    for (const operation of Object.values(item) as OperationObject[]) {
      const body = operation?.requestBody as { content?: Record<string, { schema?: unknown }> };
      const target = (body?.content?.[JSON_TYPE]?.schema as ReferenceObject | undefined)?.$ref;
      const schema = target ? schemas[target.slice(target.lastIndexOf('/') + 1)] : undefined;
      const properties = (schema as SchemaObject | undefined)?.properties ?? {};
      for (const prop of Object.values(properties)) describeDefault(prop as JsonSchemaObject);
    }
  }
}

/** `oneOf` the per-kind schemas named `<Kind><suffix>`, told apart by `kind`. */
function discriminated(entries: KindEntry[], suffix: string): SchemaObject {
  const name = (entry: KindEntry) => `${kindSchemaPrefix(entry.name)}${suffix}`;
  return {
    oneOf: entries.map((entry) => ref(name(entry))),
    discriminator: {
      propertyName: 'kind',
      mapping: Object.fromEntries(
        entries.map((entry) => [entry.name, `#/components/schemas/${name(entry)}`]),
      ),
    },
  };
}

function submitOperation(
  kind: string,
  prefix: string,
  generic: OperationObject | undefined,
): OperationObject {
  return {
    operationId: `submit_${kind.replace(/-/g, '_')}`,
    summary: `Submit a ${kind} job`,
    tags: generic?.tags ?? ['jobs'],
    security: generic?.security,
    parameters: (generic?.parameters ?? []).filter(
      (parameter) => !('in' in parameter && parameter.in === 'path'),
    ),
    requestBody: {
      required: true,
      content: { [JSON_TYPE]: { schema: ref(`${prefix}SubmitJob`) } },
    },
    responses: {
      202: {
        description: 'Accepted; Location names the job',
        headers: { Location: { schema: { type: 'string' } } },
        content: { [JSON_TYPE]: { schema: ref(`${prefix}JobView`) } },
      },
    },
  };
}

/** GET /jobs/:id, cancel, retry and the list answer the per-kind JobView union. */
function retypeJobReads(document: OpenAPIObject): void {
  const single: [string, keyof PathItemObject][] = [
    ['/api/v1/jobs/{id}', 'get'],
    ['/api/v1/jobs/{id}/cancel', 'post'],
    ['/api/v1/jobs/{id}/retry', 'post'],
  ];
  for (const [path, method] of single) {
    const operation = document.paths[path]?.[method] as OperationObject | undefined;
    for (const response of Object.values(operation?.responses ?? {})) {
      const content = (response as { content?: Record<string, { schema?: unknown }> }).content;
      if (content?.[JSON_TYPE]) content[JSON_TYPE].schema = ref('AnyJobView');
    }
  }
  const schemas = document.components?.schemas ?? {};
  const page = schemas.JobPageView as SchemaObject | undefined;
  if (page?.properties) {
    page.properties.items = { type: 'array', items: ref('AnyJobView') };
  }
}

function addErrorResponses(document: OpenAPIObject): void {
  for (const [path, item] of Object.entries(document.paths)) {
    if (!path.startsWith('/api/')) continue;
    for (const operation of Object.values(item) as OperationObject[]) {
      if (typeof operation !== 'object' || !operation?.responses) continue;
      operation.responses.default ??= {
        description: 'An error: `{ statusCode, error, message }`, the message naming what is wrong',
        content: { [JSON_TYPE]: { schema: ref('ErrorView') } },
      };
    }
  }
}
