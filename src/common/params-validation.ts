import { BadRequestException, type Type } from '@nestjs/common';
import { instanceToPlain, plainToInstance } from 'class-transformer';
import { getMetadataStorage, validate, type ValidationError } from 'class-validator';
import { compiledDto, declaredNullable, REFUSED } from './compiled-validation';

/** A property name as a message shows it: an empty or odd name quoted, so it is still seen. */
export function propertyLabel(name: string): string {
  return /^[\w$-]+$/.test(name) ? name : JSON.stringify(name);
}

/** "params.files.0.path must be a string; priority must be one of …": every field, and why. */
export function describeValidationErrors(errors: ValidationError[], prefix = ''): string {
  const lines: string[] = [];
  const walk = (list: ValidationError[], path: string) => {
    for (const error of list) {
      const field = path ? `${path}.${error.property}` : error.property;
      for (const [constraint, message] of Object.entries(error.constraints ?? {})) {
        if (constraint === 'whitelistValidation') {
          lines.push(
            `${path ? `${path}.` : ''}${propertyLabel(error.property)} is not an allowed property`,
          );
        } else if (message.startsWith(error.property)) {
          lines.push(`${field}${message.slice(error.property.length)}`);
        } else lines.push(`${field}: ${message}`);
      }
      walk(error.children ?? [], field);
    }
  };
  walk(errors, prefix);
  return lines.join('; ');
}

export const VALIDATION_OPTIONS = {
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: true,
} as const;

/** Deeper JSON is refused before anything recursive (class-transformer, JSON columns) sees it. */
export const MAX_INPUT_DEPTH = 32;

// NUL and unpaired surrogates: PostgreSQL stores neither in text nor in jsonb.
// eslint-disable-next-line no-control-regex
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

const joinPath = (path: string, key: string | number) => (path ? `${path}.${key}` : String(key));

/**
 * The rule for every JSON input, whatever its DTO: no string (value or key) the database cannot
 * store, and no nesting deeper than MAX_INPUT_DEPTH. Answers the first problem, naming the field.
 */
export function inputProblem(value: unknown, path = ''): string | null {
  const pending: [unknown, string, number][] = [[value, path, 0]];
  while (pending.length > 0) {
    const [current, at, depth] = pending.pop()!;
    if (typeof current === 'string') {
      if (UNSTORABLE.test(current)) {
        return `${at || 'body'} must be text without NUL characters or unpaired surrogates`;
      }
    } else if (typeof current === 'object' && current !== null) {
      if (depth >= MAX_INPUT_DEPTH) {
        const top = Array.isArray(value)
          ? ''
          : at
              .split('.')
              .slice(0, path ? 2 : 1)
              .join('.');
        return `${top || path || 'body'} is nested more than ${MAX_INPUT_DEPTH} levels deep`;
      }
      const entries = Array.isArray(current)
        ? current.map((item, index) => [index, item] as const)
        : Object.entries(current);
      for (const [key, item] of entries) {
        if (typeof key === 'string' && UNSTORABLE.test(key)) {
          return `${at || 'body'} has a property name with a NUL character or unpaired surrogate`;
        }
        pending.push([item, joinPath(at, key), depth + 1]);
      }
    }
  }
  return null;
}

/**
 * The null rule, one for every DTO: an optional property may be absent, never null, unless its
 * @ApiProperty says `nullable: true`. (class-validator's @IsOptional lets null through to code
 * that only expects a value or undefined.)
 */
export function nullErrors(instance: object, path = ''): ValidationError[] {
  const errors: ValidationError[] = [];
  const record = instance as Record<string, unknown>;
  for (const { property, optional, nested, nullable } of nullRules(instance.constructor)) {
    const value = record[property];
    const field = joinPath(path, property);
    if (value === null && optional && !nullable) {
      errors.push({
        property: field,
        value,
        target: instance,
        children: [],
        constraints: { isNotNull: `${field} must not be null; omit it to leave it unset` },
      });
    } else if (nested && typeof value === 'object' && value !== null) {
      const items: [string, unknown][] = Array.isArray(value)
        ? value.map((item, index) => [joinPath(field, index), item])
        : [[field, value]];
      for (const [at, item] of items) {
        if (typeof item === 'object' && item !== null && item.constructor !== Object) {
          errors.push(...nullErrors(item, at));
        }
      }
    }
  }
  return errors;
}

interface NullRule {
  property: string;
  optional: boolean;
  nested: boolean;
  nullable: boolean;
}

const nullRuleCache = new WeakMap<object, NullRule[]>();

/** What the null rule needs of a DTO class, read from its decorators once. */
function nullRules(type: object): NullRule[] {
  const cached = nullRuleCache.get(type);
  if (cached) return cached;
  const metadata = getMetadataStorage().getTargetValidationMetadatas(
    type as Type<object>,
    '',
    true,
    false,
  );
  const byProperty = new Map<string, string[]>();
  for (const meta of metadata) {
    // @IsOptional is a conditional validation named isOptional; @ValidateIf is another one.
    const mark = meta.name === 'isOptional' ? 'optional' : meta.type;
    byProperty.set(meta.propertyName, [...(byProperty.get(meta.propertyName) ?? []), mark]);
  }
  const rules = [...byProperty].map(([property, kinds]) => ({
    property,
    optional: kinds.includes('optional'),
    nested: kinds.includes('nestedValidation'),
    nullable: declaredNullable((type as Type<object>).prototype as object, property),
  }));
  nullRuleCache.set(type, rules);
  return rules;
}

/** Validates a kind's params against its DTO, by the same rules; returns the plain, validated value. */
export async function validateParams<P extends object>(
  type: Type<P>,
  raw: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const problem = inputProblem(raw, 'params');
  if (problem) throw new BadRequestException(problem);
  // The compiled check vouches for a valid value; any other is validated again below.
  const valid = compiledDto(type)?.plain(raw) ?? REFUSED;
  if (valid !== REFUSED) return valid;
  const instance = plainToInstance(type, raw);
  const errors = [...nullErrors(instance), ...(await validate(instance, VALIDATION_OPTIONS))];
  if (errors.length > 0) throw new BadRequestException(describeValidationErrors(errors, 'params'));
  return instanceToPlain(instance);
}
