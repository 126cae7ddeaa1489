import type { Type } from '@nestjs/common';
import { ModelPropertiesAccessor } from '@nestjs/swagger/dist/services/model-properties-accessor';
import { SchemaObjectFactory } from '@nestjs/swagger/dist/services/schema-object-factory';
import { SwaggerTypesMapper } from '@nestjs/swagger/dist/services/swagger-types-mapper';
import { getMetadataStorage } from 'class-validator';
import type { ValidationMetadata } from 'class-validator/types/metadata/ValidationMetadata';
import type { JobKind } from './job.types';

interface TransformerStorage {
  findTypeMetadata(target: object, property: string): { typeFunction(): unknown } | undefined;
}
// class-transformer ships the storage's types only at its package root, not beside cjs/.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const transformerModule = require('class-transformer/cjs/storage') as {
  defaultMetadataStorage: TransformerStorage;
};
const transformerStorage = transformerModule.defaultMetadataStorage;

export type JsonSchemaType = 'object' | 'array' | 'string' | 'number' | 'integer' | 'boolean';

/**
 * A self-contained schema (no $ref), in the dialect OpenAPI 3.0 and JSON Schema share;
 * `nullable` is OpenAPI's spelling of "or null".
 */
export interface JsonSchemaObject {
  type?: JsonSchemaType;
  description?: string;
  properties?: Record<string, JsonSchemaObject>;
  required?: string[];
  additionalProperties?: boolean | JsonSchemaObject;
  items?: JsonSchemaObject;
  enum?: (string | number | boolean | null)[];
  nullable?: boolean;
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  oneOf?: JsonSchemaObject[];
  allOf?: JsonSchemaObject[];
  anyOf?: JsonSchemaObject[];
  [keyword: string]: unknown;
}

/** The params of an external kind: any JSON object; the size bound is checked at submit. */
export const FREE_FORM_PARAMS: Readonly<JsonSchemaObject> = Object.freeze({
  type: 'object',
  additionalProperties: true,
  description: 'Any JSON object (at most 64 KiB), passed to the external worker as it is',
});

/** The result of a kind that declares no result class. */
export const FREE_FORM_RESULT: Readonly<JsonSchemaObject> = Object.freeze({
  type: 'object',
  additionalProperties: true,
});

/**
 * The params' schema: what submit accepts (unknown properties are refused, hence closed).
 * A kind run outside Conveyor (marked `external`) takes any JSON object.
 */
export function paramsJsonSchema(kind: JobKind): JsonSchemaObject {
  if (isExternal(kind)) return { ...FREE_FORM_PARAMS };
  return clone(cached(paramsCache, kind.params, () => classSchema(kind.params, true)));
}

/** The result's schema; null when the kind declares no result class (its result is free-form). */
export function resultJsonSchema(kind: JobKind): JsonSchemaObject | null {
  const { result } = kind;
  if (!result) return null;
  return clone(cached(resultCache, result, () => classSchema(result, false)));
}

/**
 * The schema of any DTO class, from its @ApiProperty decorators (the swagger machinery) made
 * exact by its class-validator decorators, which are what the request is really checked with.
 */
export function classJsonSchema(type: Type<object>, closed: boolean): JsonSchemaObject {
  return clone(classSchema(type, closed));
}

// Read structurally: the external runner is declared where external kinds are built.
function isExternal(kind: JobKind): boolean {
  const { external } = kind as { readonly external?: unknown };
  return external !== undefined && external !== null;
}

const paramsCache = new WeakMap<Type<object>, JsonSchemaObject>();
const resultCache = new WeakMap<Type<object>, JsonSchemaObject>();

function cached(
  cache: WeakMap<Type<object>, JsonSchemaObject>,
  type: Type<object>,
  build: () => JsonSchemaObject,
): JsonSchemaObject {
  let schema = cache.get(type);
  if (!schema) {
    schema = build();
    cache.set(type, schema);
  }
  return schema;
}

function clone(schema: JsonSchemaObject): JsonSchemaObject {
  return structuredClone(schema);
}

type SwaggerSchemas = Record<string, JsonSchemaObject>;

function classSchema(type: Type<object>, closed: boolean): JsonSchemaObject {
  const factory = new SchemaObjectFactory(new ModelPropertiesAccessor(), new SwaggerTypesMapper());
  const schemas: SwaggerSchemas = {};
  const name = factory.exploreModelSchema(type, schemas);
  const classes = new Map<string, Type<object>>([[name, type]]);
  collectNestedClasses(type, classes);
  return inline({ $ref: `#/components/schemas/${name}` }, schemas, classes, closed, []);
}

const REF_PREFIX = '#/components/schemas/';

/** Replaces every $ref by the schema it names; a cycle ends in an open object. */
function inline(
  node: JsonSchemaObject,
  schemas: SwaggerSchemas,
  classes: Map<string, Type<object>>,
  closed: boolean,
  stack: string[],
): JsonSchemaObject {
  const ref = node.$ref;
  if (typeof ref === 'string' && ref.startsWith(REF_PREFIX)) {
    const name = ref.slice(REF_PREFIX.length);
    const { $ref: _ref, ...siblings } = node;
    if (stack.includes(name)) return { ...siblings, type: 'object' };
    const target = schemas[name] ?? { type: 'object' };
    const resolved = inline(target, schemas, classes, closed, [...stack, name]);
    const type = classes.get(name);
    const exact = type ? refine(resolved, type, closed) : resolved;
    return { ...exact, ...siblings };
  }
  const out: JsonSchemaObject = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'properties' && isRecord(value)) {
      out.properties = Object.fromEntries(
        Object.entries(value).map(([prop, sub]) => [
          prop,
          inline(sub, schemas, classes, closed, stack),
        ]),
      );
    } else if ((key === 'items' || key === 'additionalProperties') && isRecord(value)) {
      out[key] = inline(value, schemas, classes, closed, stack);
    } else if ((key === 'allOf' || key === 'oneOf' || key === 'anyOf') && Array.isArray(value)) {
      out[key] = value.map((sub: JsonSchemaObject) => inline(sub, schemas, classes, closed, stack));
    } else {
      out[key] = value;
    }
  }
  // `{ allOf: [one schema] }` is how swagger attaches a description or nullable to a $ref.
  if (out.allOf?.length === 1 && !out.type && !out.properties) {
    const [only] = out.allOf;
    delete out.allOf;
    return { ...only, ...out };
  }
  return out;
}

function isRecord(value: unknown): value is Record<string, JsonSchemaObject> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Nested DTO classes named by @Type / @ApiProperty({ type }), so their validators refine them too. */
function collectNestedClasses(type: Type<object>, classes: Map<string, Type<object>>): void {
  for (const meta of validationMetadata(type)) {
    if (meta.type !== 'nestedValidation') continue;
    const design: unknown = Reflect.getMetadata(
      'design:type',
      type.prototype as object,
      meta.propertyName,
    );
    const nested = nestedType(type, meta.propertyName) ?? design;
    if (typeof nested !== 'function' || nested === Array) continue;
    const nestedClass = nested as Type<object>;
    if (!classes.has(nestedClass.name)) {
      classes.set(nestedClass.name, nestedClass);
      collectNestedClasses(nestedClass, classes);
    }
  }
}

/** class-transformer's @Type(() => X) is the one place an array's element class is known. */
function nestedType(type: Type<object>, property: string): unknown {
  return transformerStorage.findTypeMetadata(type, property)?.typeFunction();
}

function validationMetadata(type: Type<object>): ValidationMetadata[] {
  return getMetadataStorage().getTargetValidationMetadatas(type, '', true, false);
}

/** Makes a class's schema say what its validators check: types, bounds, required, closed. */
function refine(schema: JsonSchemaObject, type: Type<object>, closed: boolean): JsonSchemaObject {
  const byProperty = new Map<string, ValidationMetadata[]>();
  for (const meta of validationMetadata(type)) {
    const list = byProperty.get(meta.propertyName) ?? [];
    list.push(meta);
    byProperty.set(meta.propertyName, list);
  }
  if (byProperty.size === 0) return schema;
  const properties: Record<string, JsonSchemaObject> = { ...schema.properties };
  const required = new Set(schema.required ?? []);
  for (const [property, metas] of byProperty) {
    const prop: JsonSchemaObject = { ...properties[property] };
    const isArray = metas.some((m) => m.name === 'isArray') || prop.type === 'array';
    if (isArray) {
      prop.type = 'array';
      prop.items = { ...prop.items };
    }
    for (const meta of metas) {
      const target = meta.each && isArray && prop.items ? prop.items : prop;
      applyConstraint(target, meta);
    }
    if (metas.some((m) => m.name === 'isOptional')) required.delete(property);
    else required.add(property);
    properties[property] = prop;
  }
  if (closed) for (const prop of Object.values(properties)) describeDefault(prop);
  const out: JsonSchemaObject = { ...schema, type: 'object', properties };
  if (required.size > 0) out.required = [...required];
  else delete out.required;
  if (closed) out.additionalProperties = false;
  return out;
}

/**
 * An input's default is applied by the server, so the caller may omit it; generators such as
 * openapi-typescript read `default` as "always present", so it is said in words instead.
 */
export function describeDefault(schema: JsonSchemaObject): void {
  if (!('default' in schema)) return;
  const text = `Default: ${JSON.stringify(schema.default)}`;
  schema.description = schema.description ? `${schema.description}. ${text}` : text;
  delete schema.default;
}

function applyConstraint(target: JsonSchemaObject, meta: ValidationMetadata): void {
  const [first, second] = (meta.constraints ?? []) as unknown[];
  const num = (value: unknown) => (typeof value === 'number' ? value : undefined);
  switch (meta.name) {
    case 'isString':
      target.type = 'string';
      break;
    case 'isInt':
      target.type = 'integer';
      break;
    case 'isNumber':
      if (target.type !== 'integer') target.type = 'number';
      break;
    case 'isBoolean':
      target.type = 'boolean';
      break;
    case 'isObject':
      target.type = 'object';
      break;
    case 'isIn':
      if (Array.isArray(first)) target.enum = [...(first as (string | number)[])];
      break;
    case 'isEnum':
      if (typeof first === 'object' && first !== null) {
        target.enum = [...new Set(Object.values(first as Record<string, string | number>))];
      }
      break;
    case 'isLength':
      if (num(first) !== undefined) target.minLength = num(first);
      if (num(second) !== undefined) target.maxLength = num(second);
      break;
    case 'minLength':
      target.minLength = num(first);
      break;
    case 'maxLength':
      target.maxLength = num(first);
      break;
    case 'isNotEmpty':
      if (target.type === 'string' && target.minLength === undefined) target.minLength = 1;
      break;
    case 'min':
      target.minimum = num(first);
      break;
    case 'max':
      target.maximum = num(first);
      break;
    case 'isPositive':
      target.exclusiveMinimum = 0;
      break;
    case 'arrayMinSize':
    case 'arrayNotEmpty':
      target.minItems = num(first) ?? 1;
      break;
    case 'arrayMaxSize':
      target.maxItems = num(first);
      break;
    case 'matches':
      if (first instanceof RegExp && first.flags.replace('u', '') === '') {
        target.pattern = first.source;
      }
      break;
    case 'isUUID':
      target.type = 'string';
      target.format = 'uuid';
      break;
    case 'isUrl':
      target.type = 'string';
      target.format = 'uri';
      break;
    default:
      break;
  }
}
