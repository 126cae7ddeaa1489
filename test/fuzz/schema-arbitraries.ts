import fc from 'fast-check';

/** The part of an OpenAPI 3.0 / JSON Schema object the fuzzer reads. */
export interface Schema {
  $ref?: string;
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  enum?: unknown[];
  nullable?: boolean;
  format?: string;
  example?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  allOf?: Schema[];
  oneOf?: Schema[];
  anyOf?: Schema[];
}

export type Components = Record<string, Schema>;

/** Follows $ref and single-schema allOf, so callers see the schema itself. */
export function resolveSchema(schema: Schema | undefined, components: Components): Schema {
  let current = schema ?? {};
  for (let hops = 0; hops < 20; hops += 1) {
    if (current.$ref) {
      current = components[current.$ref.slice(current.$ref.lastIndexOf('/') + 1)] ?? {};
    } else if (current.allOf?.length === 1 && !current.properties) {
      const [only] = current.allOf;
      current = { ...current, ...only, allOf: undefined };
    } else break;
  }
  return current;
}

/** Every property name a schema mentions, at any depth: what a 400 may name. */
export function propertyNames(schema: Schema | undefined, components: Components): Set<string> {
  const names = new Set<string>();
  const walk = (node: Schema | undefined, depth = 0) => {
    if (depth > 8) return;
    const resolved = resolveSchema(node, components);
    for (const [name, sub] of Object.entries(resolved.properties ?? {})) {
      names.add(name);
      walk(sub, depth + 1);
    }
    walk(resolved.items, depth + 1);
    for (const sub of [...(resolved.oneOf ?? []), ...(resolved.anyOf ?? [])]) walk(sub, depth + 1);
  };
  walk(schema);
  return names;
}

const HUGE = 200_000;

/** Text that databases and parsers choke on: NUL, lone surrogates, control and RTL characters. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    'a\u0000b',
    '\ud800',
    'x\udfffy',
    '\u202eevil',
    '\uffff\ufffe',
    '💥'.repeat(50),
    '%00',
    '../../etc/passwd',
    '\'; DROP TABLE "Job"; --',
    '{{constructor.constructor}}',
    '__proto__',
    '\r\n\t',
  ),
  fc.integer({ min: 1000, max: HUGE }).map((n) => 'a'.repeat(n)),
);

/** A value nested `depth` levels deep, as arrays or objects. */
export function nested(depth: number, asObject: boolean): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i += 1) value = asObject ? { a: value } : [value];
  return value;
}

// Deeper values are sent as raw text (malformedJson): JSON.stringify itself overflows on them.
const deepValue = fc
  .tuple(fc.integer({ min: 20, max: 1000 }), fc.boolean())
  .map(([depth, asObject]) => nested(depth, asObject));

/** Numbers around a schema's bounds and JSON's: at the bound, one past, huge, fractional. */
function boundaryNumbers(schema: Schema): fc.Arbitrary<number> {
  const edges = [0, -1, 1, 0.5, -0.5, 1e308, -1e308, 2 ** 53, 2 ** 53 + 2, 2 ** 31, -(2 ** 31) - 1];
  for (const bound of [schema.minimum, schema.maximum]) {
    if (bound !== undefined) edges.push(bound, bound - 1, bound + 1, bound + 0.5);
  }
  for (const bound of [schema.minLength, schema.maxLength, schema.minItems, schema.maxItems]) {
    if (bound !== undefined) edges.push(bound, bound + 1);
  }
  return fc.oneof(fc.constantFrom(...edges), fc.integer(), fc.double({ noNaN: true }));
}

/** Values a schema probably refuses, and values every parser must survive. */
export function hostileValue(schema: Schema, components: Components): fc.Arbitrary<unknown> {
  const resolved = resolveSchema(schema, components);
  const sized: fc.Arbitrary<unknown>[] = [];
  if (resolved.maxLength !== undefined) sized.push(fc.constant('x'.repeat(resolved.maxLength + 1)));
  if (resolved.minLength !== undefined && resolved.minLength > 0) {
    sized.push(fc.constant('x'.repeat(resolved.minLength - 1)));
  }
  if (resolved.maxItems !== undefined) {
    sized.push(fc.constant(Array.from({ length: resolved.maxItems + 1 }, () => 'x')));
  }
  return fc.oneof(
    fc.constantFrom(null, true, false, 0, '', [], {}),
    boundaryNumbers(resolved),
    nastyString,
    deepValue,
    fc.jsonValue({ maxDepth: 3 }),
    fc.array(nastyString, { maxLength: 4 }),
    fc.dictionary(nastyString, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
    ...sized,
  );
}

/** Values the schema accepts (as far as its keywords say). */
export function validValue(
  schema: Schema | undefined,
  components: Components,
  depth = 0,
): fc.Arbitrary<unknown> {
  const resolved = resolveSchema(schema, components);
  const options = resolved.oneOf ?? resolved.anyOf;
  if (options?.length) return fc.oneof(...options.map((o) => validValue(o, components, depth)));
  if (resolved.enum?.length) return fc.constantFrom(...resolved.enum);
  switch (resolved.type) {
    case 'string': {
      if (resolved.format === 'uuid') return fc.uuid();
      if (resolved.format === 'date-time') return fc.date({ noInvalidDate: true }).map(String);
      const text = fc.string({
        minLength: resolved.minLength ?? 0,
        maxLength: Math.min(resolved.maxLength ?? 40, 40),
      });
      return typeof resolved.example === 'string'
        ? fc.oneof(fc.constant(resolved.example), text)
        : text;
    }
    case 'integer':
      return fc.integer({
        min: resolved.minimum ?? -1000,
        max: resolved.maximum ?? Math.max(1_000_000, resolved.minimum ?? 0),
      });
    case 'number':
      return fc.double({
        noNaN: true,
        noDefaultInfinity: true,
        min: resolved.minimum ?? -1e6,
        max: resolved.maximum ?? 1e6,
      });
    case 'boolean':
      return fc.boolean();
    case 'array':
      return fc.array(validValue(resolved.items, components, depth + 1), {
        minLength: resolved.minItems ?? 0,
        maxLength: Math.min(resolved.maxItems ?? 3, 3),
      });
    default:
      break;
  }
  if (resolved.properties && depth < 6) {
    const keys = Object.keys(resolved.properties);
    const required = (resolved.required ?? []).filter((key) => keys.includes(key));
    return fc.record(
      Object.fromEntries(
        Object.entries(resolved.properties).map(([key, sub]) => [
          key,
          validValue(sub, components, depth + 1),
        ]),
      ),
      { requiredKeys: required },
    );
  }
  return fc.jsonValue({ maxDepth: 2 }).map((value) => (depth === 0 ? { value } : value));
}

type Mutation =
  | { kind: 'valid' }
  | { kind: 'replace'; key: string; value: unknown }
  | { kind: 'delete'; key: string }
  | { kind: 'extra'; key: string; value: unknown };

/**
 * A value of the schema with one thing wrong (or nothing): a field of a wrong type, null, out of
 * bounds, hostile text, deep nesting, a required field missing, an extra field; nested objects
 * are mutated the same way, so a kind's params inside the submit body are reached too.
 */
export function mutatedValue(
  schema: Schema | undefined,
  components: Components,
  depth = 0,
): fc.Arbitrary<unknown> {
  const resolved = resolveSchema(schema, components);
  const properties = Object.entries(resolved.properties ?? {});
  if (properties.length === 0 || depth > 4) {
    return fc.oneof(validValue(resolved, components, depth), hostileValue(resolved, components));
  }
  const keys = properties.map(([key]) => key);
  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    { weight: 1, arbitrary: fc.constant({ kind: 'valid' as const }) },
    {
      weight: 4,
      arbitrary: fc
        .constantFrom(...properties)
        .chain(([key, sub]) =>
          fc
            .oneof(hostileValue(sub, components), mutatedValue(sub, components, depth + 1))
            .map((value) => ({ kind: 'replace' as const, key, value })),
        ),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(...keys).map((key) => ({ kind: 'delete' as const, key })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.oneof(fc.string({ maxLength: 10 }), nastyString), fc.jsonValue({ maxDepth: 2 }))
        .map(([key, value]) => ({ kind: 'extra' as const, key, value })),
    },
  );
  return fc.tuple(validValue(resolved, components, depth), mutation).map(([base, change]) => {
    const value = { ...(base as Record<string, unknown>) };
    if (change.kind === 'replace' || change.kind === 'extra') {
      Object.defineProperty(value, change.key, {
        value: change.value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    if (change.kind === 'delete') delete value[change.key];
    return value;
  });
}

/** Bodies no JSON parser should accept, and JSON that is valid but of the wrong shape. */
export const malformedJson: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '',
    '{',
    '{"projectId":',
    '[1,2',
    '{"a":1,}',
    "{'a':1}",
    'null',
    'true',
    '42',
    '"text"',
    '[]',
    '{"projectId":"p","params":{"__proto__":{"polluted":true}}}',
    '{"constructor":{"prototype":{"polluted":true}}}',
    '{"projectId":"\\u0000"}',
    '{"projectId":"\\ud800"}',
    '{"params":{"a":1e999999}}',
    '{"a":1,"a":2}',
    '\ufeff{}',
  ),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.integer({ min: 2000, max: 100_000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
  fc.integer({ min: 2000, max: 100_000 }).map((n) => '{"a":'.repeat(n) + '1' + '}'.repeat(n)),
);
