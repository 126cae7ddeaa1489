import type { Type } from '@nestjs/common';
import { getMetadataStorage, type ValidationArguments } from 'class-validator';
import type { ValidationMetadata } from 'class-validator/types/metadata/ValidationMetadata';

/*
 * A DTO's validation compiled once, from class-validator's metadata, into closures: for a value
 * they accept, the same result as class-transformer's plainToInstance (and instanceToPlain) with
 * class-validator's validate under VALIDATION_OPTIONS and the null rule, at a fraction of the
 * cost (docs/api-contract.md). They only say yes when that path would: anything else they answer
 * REFUSED and the caller runs the path itself, which then writes the message (docs/errors.md).
 * A class with a decorator or option they do not model is not compiled at all.
 */

/** The compiled check does not vouch for the value: validate it the old way. */
export const REFUSED: unique symbol = Symbol('refused');
export type Refused = typeof REFUSED;

export interface CompiledDto<T extends object = object> {
  /** What plainToInstance gives for a valid value (the value is left as it is), or REFUSED. */
  instance(raw: unknown): T | Refused;
  /** instanceToPlain of that instance, or REFUSED. */
  plain(raw: unknown): Record<string, unknown> | Refused;
}

const SWAGGER_PROPERTY = 'swagger/apiModelProperties';

/** Whether a property's @ApiProperty says `nullable: true` (the null rule lets null through). */
export function declaredNullable(prototype: object, property: string): boolean {
  const declared: unknown = Reflect.getMetadata(SWAGGER_PROPERTY, prototype, property);
  return (declared as { nullable?: unknown } | undefined)?.nullable === true;
}

interface TransformerStorage {
  findTypeMetadata(
    target: object,
    property: string,
  ): { typeFunction?: (...args: unknown[]) => unknown; reflectedType?: unknown; options?: object };
  findTransformMetadatas(target: object, property: string, transformationType: number): unknown[];
  getExposedMetadatas(target: object): unknown[];
  getExcludedMetadatas(target: object): unknown[];
  getStrategy(target: object): string;
}
// class-transformer ships the storage's types only at its package root, not beside cjs/.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const transformerModule = require('class-transformer/cjs/storage') as {
  defaultMetadataStorage: TransformerStorage;
};
const transformerStorage = transformerModule.defaultMetadataStorage;
// class-transformer's TransformationType: PLAIN_TO_CLASS, CLASS_TO_PLAIN, CLASS_TO_CLASS.
const TRANSFORMATION_TYPES = [0, 1, 2];

/**
 * The decorators modelled: class-validator's own, whose check reads nothing but the value and the
 * decorator's constraints, so calling the registered check gives what validate() computes.
 */
const PURE_CHECKS = new Set([
  'isString',
  'isInt',
  'isNumber',
  'isBoolean',
  'isObject',
  'isArray',
  'isIn',
  'isLength',
  'minLength',
  'maxLength',
  'min',
  'max',
  'matches',
  'arrayMaxSize',
  'arrayMinSize',
  'arrayNotEmpty',
  'isNotEmpty',
  'isUuid',
]);

type Check = (value: unknown) => boolean;

interface PropertyPlan {
  readonly name: string;
  readonly optional: boolean;
  readonly nullable: boolean;
  readonly checks: Check[];
  /** Set for @ValidateNested + @Type(() => Class): the class its objects become. */
  readonly nested: ClassPlan | null;
  readonly isNested: boolean;
}

interface ClassPlan {
  readonly type: new () => object;
  readonly properties: Map<string, PropertyPlan>;
  readonly list: PropertyPlan[];
}

class NotCompiled extends Error {}

const plans = new WeakMap<object, ClassPlan | null>();
const compiledDtos = new WeakMap<object, CompiledDto | null>();

/** The compiled validation of a DTO class; null when the class uses what is not modelled. */
export function compiledDto<T extends object>(type: Type<T>): CompiledDto<T> | null {
  if (compiledDtos.has(type)) return compiledDtos.get(type) as CompiledDto<T> | null;
  let compiled: CompiledDto | null = null;
  try {
    const plan = planOf(type, new Set());
    compiled = {
      instance: (raw) => build(plan, raw),
      plain: (raw) => {
        const instance = build(plan, raw);
        return instance === REFUSED ? REFUSED : (toPlain(instance) as Record<string, unknown>);
      },
    };
  } catch (error) {
    if (!(error instanceof NotCompiled)) throw error;
  }
  compiledDtos.set(type, compiled);
  return compiled as CompiledDto<T> | null;
}

function planOf(type: object, building: Set<object>): ClassPlan {
  const cached = plans.get(type);
  if (cached) return cached;
  // A class that nests itself (directly or not) is left to class-validator.
  if (cached === null || building.has(type)) throw new NotCompiled();
  building.add(type);
  try {
    const plan = compilePlan(type as new () => object, building);
    plans.set(type, plan);
    return plan;
  } catch (error) {
    plans.set(type, null);
    throw error;
  } finally {
    building.delete(type);
  }
}

const OBJECT_NAMES = new Set(Object.getOwnPropertyNames(Object.prototype));

function compilePlan(type: new () => object, building: Set<object>): ClassPlan {
  if (typeof type !== 'function') throw new NotCompiled();
  const metadata = getMetadataStorage().getTargetValidationMetadatas(type, '', false, false);
  // forbidUnknownValues refuses an instance of a class without any rule.
  if (metadata.length === 0) throw new NotCompiled();
  if (
    transformerStorage.getStrategy(type) !== 'none' ||
    transformerStorage.getExposedMetadatas(type).length > 0 ||
    transformerStorage.getExcludedMetadatas(type).length > 0
  ) {
    throw new NotCompiled();
  }
  const byProperty = new Map<string, ValidationMetadata[]>();
  for (const meta of metadata) {
    byProperty.set(meta.propertyName, [...(byProperty.get(meta.propertyName) ?? []), meta]);
  }
  const prototype = type.prototype as object;
  const list: PropertyPlan[] = [];
  for (const [name, metas] of byProperty) {
    // A name the prototype holds (a method, an accessor, Object's own) is copied differently.
    if (OBJECT_NAMES.has(name) || name === 'prototype' || name in prototype) {
      throw new NotCompiled();
    }
    for (const kind of TRANSFORMATION_TYPES) {
      if (transformerStorage.findTransformMetadatas(type, name, kind).length > 0) {
        throw new NotCompiled();
      }
    }
    list.push(propertyPlan(type, name, metas, building));
  }
  // What plainToInstance starts from: every field it declares must be one validated, and unset.
  const blank = new type() as Record<string, unknown>;
  for (const key of Object.keys(blank)) {
    if (!byProperty.has(key) || blank[key] !== undefined) throw new NotCompiled();
  }
  return { type, properties: new Map(list.map((p) => [p.name, p])), list };
}

function propertyPlan(
  type: new () => object,
  name: string,
  metas: ValidationMetadata[],
  building: Set<object>,
): PropertyPlan {
  let optional = false;
  let isNested = false;
  const checks: Check[] = [];
  for (const meta of metas) {
    if (meta.validateIf) throw new NotCompiled();
    if (meta.type === 'conditionalValidation' && meta.name === 'isOptional') optional = true;
    else if (meta.type === 'nestedValidation') isNested = true;
    else if (meta.type === 'customValidation') checks.push(checkOf(type, name, meta));
    else throw new NotCompiled();
  }
  const typeMeta = transformerStorage.findTypeMetadata(type, name);
  let nested: ClassPlan | null = null;
  if (typeMeta) {
    // @Type only as the class of a nested object, named by a thunk without arguments.
    const thunk = typeMeta.typeFunction;
    const options = typeMeta.options ?? {};
    if (!isNested || !thunk || thunk.length > 0 || Object.keys(options).length > 0) {
      throw new NotCompiled();
    }
    // An array becomes whatever its reflected type builds; a plain array is the one modelled.
    const reflected = typeMeta.reflectedType;
    if (typeof reflected === 'function' && reflected !== Array) {
      const probe: unknown = new (reflected as new () => unknown)();
      if (
        probe instanceof Set ||
        (typeof probe === 'object' && probe !== null && 'push' in probe)
      ) {
        throw new NotCompiled();
      }
    }
    nested = planOf(thunk() as object, building);
  } else if (isNested) {
    throw new NotCompiled();
  }
  const nullable = declaredNullable(type.prototype as object, name);
  return { name, optional, nullable, checks, nested, isNested };
}

function checkOf(type: new () => object, name: string, meta: ValidationMetadata): Check {
  if (!meta.name || !PURE_CHECKS.has(meta.name) || !meta.constraintCls) throw new NotCompiled();
  const constraints = getMetadataStorage().getTargetValidatorConstraints(meta.constraintCls);
  if (constraints.length !== 1 || constraints[0].async || constraints[0].name !== meta.name) {
    throw new NotCompiled();
  }
  const [pattern] = (meta.constraints ?? []) as unknown[];
  // A sticky or global expression keeps state between calls; this check must not move it.
  if (meta.name === 'matches' && pattern instanceof RegExp && /[gy]/.test(pattern.flags)) {
    throw new NotCompiled();
  }
  const validator = constraints[0].instance as {
    validate(value: unknown, args: ValidationArguments): unknown;
  };
  const args: ValidationArguments = {
    targetName: type.name,
    property: name,
    object: {},
    value: undefined,
    constraints: meta.constraints as unknown[],
  };
  // Anything but true (a promise, a truthy non-boolean) is left to class-validator.
  const one: Check = (value) => validator.validate(value, args) === true;
  if (!meta.each) return one;
  return (value) => {
    if (!Array.isArray(value)) return one(value);
    for (const item of value) if (!one(item)) return false;
    return true;
  };
}

type Mutable = Record<string, unknown>;

function isRecord(value: unknown): value is Mutable {
  if (typeof value !== 'object' || value === null) return false;
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
}

/** plainToInstance of a valid value, checked on the way as validate() and the null rule would. */
function build(plan: ClassPlan, raw: unknown): object | Refused {
  if (!isRecord(raw)) return REFUSED;
  const instance = new plan.type() as Mutable;
  for (const key of Object.keys(raw)) {
    // forbidNonWhitelisted; an unknown key's message is class-validator's.
    const property = plan.properties.get(key);
    if (!property) return REFUSED;
    const value = property.nested ? nestedCopy(property.nested, raw[key]) : freeCopy(raw[key]);
    if (value === REFUSED) return REFUSED;
    instance[key] = value;
  }
  for (const property of plan.list) {
    const value = instance[property.name];
    if (property.optional && (value === null || value === undefined)) {
      if (value === null && !property.nullable) return REFUSED;
      continue;
    }
    for (const check of property.checks) if (!check(value)) return REFUSED;
    // A nested value that got here is undefined (not validated) or built and checked already.
    if (property.isNested && value !== undefined && (typeof value !== 'object' || value === null)) {
      return REFUSED;
    }
  }
  return instance;
}

/** class-transformer's copy of a value with @Type(() => Class): objects become the class. */
function nestedCopy(plan: ClassPlan, value: unknown): unknown {
  if (value === undefined || value === null) return value;
  return nestedItem(plan, value);
}

/** An object becomes the class; an array's items (arrays too) are each validated as one. */
function nestedItem(plan: ClassPlan, value: unknown): unknown {
  if (Array.isArray(value)) {
    const items: unknown[] = [];
    let refused = false;
    (value as unknown[]).forEach((item) => {
      const built = refused ? REFUSED : nestedItem(plan, item);
      if (built === REFUSED) refused = true;
      else items.push(built);
    });
    // A gap (forEach skips it) is closed by the pipe or by the copy: left to them.
    return refused || items.length !== value.length ? REFUSED : items;
  }
  return build(plan, value);
}

/**
 * class-transformer's copy of a value without a type: JSON as it is. Whatever it treats apart
 * (a key of Object.prototype's or `prototype`, which it or the pipe drops; a gap; anything not
 * JSON) is refused.
 */
function freeCopy(value: unknown): unknown {
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'undefined':
      return value;
    case 'object':
      break;
    default:
      return REFUSED;
  }
  if (value === null) return value;
  if (Array.isArray(value)) {
    const items: unknown[] = [];
    let refused = false;
    (value as unknown[]).forEach((item) => {
      const copy = refused ? REFUSED : freeCopy(item);
      if (copy === REFUSED) refused = true;
      else items.push(copy);
    });
    return refused || items.length !== value.length ? REFUSED : items;
  }
  if (!isRecord(value)) return REFUSED;
  const copy: Mutable = {};
  for (const key of Object.keys(value)) {
    if (OBJECT_NAMES.has(key) || key === 'prototype') return REFUSED;
    const item = freeCopy(value[key]);
    if (item === REFUSED) return REFUSED;
    copy[key] = item;
  }
  return copy;
}

/** instanceToPlain of what build() made: every own key (unset fields too), classes as objects. */
function toPlain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toPlain);
  if (typeof value !== 'object' || value === null) return value;
  const plain: Mutable = {};
  for (const key of Object.keys(value)) plain[key] = toPlain((value as Mutable)[key]);
  return plain;
}
