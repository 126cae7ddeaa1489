import { isDeepStrictEqual } from 'node:util';
import type { ArgumentMetadata, BadRequestException, PipeTransform, Type } from '@nestjs/common';
import * as compiledModule from '../../src/common/compiled-validation';
import { compiledDto, REFUSED } from '../../src/common/compiled-validation';
import { inputProblem, validateParams } from '../../src/common/params-validation';

/** What a validation ended in: the value it returned, or the message of its 400. */
export type Outcome = { ok: true; value: unknown } | { ok: false; message: unknown };

async function outcomeOf(run: () => Promise<unknown>): Promise<Outcome> {
  try {
    return { ok: true, value: await run() };
  } catch (error) {
    // Anything else thrown (class-transformer's TypeError on a "constructor" key) must be too.
    const response = (error as BadRequestException).getResponse?.() ?? `threw ${String(error)}`;
    return { ok: false, message: response };
  }
}

/** Runs `run` with the compiled validation switched off: the path every value took before. */
async function withoutCompiled<T>(run: () => Promise<T>): Promise<T> {
  const spy = jest.spyOn(compiledModule, 'compiledDto').mockReturnValue(null);
  try {
    return await run();
  } finally {
    spy.mockRestore();
  }
}

/**
 * A deep copy made in this realm: structuredClone's objects have another realm's prototypes, which
 * class-transformer (and so the compiled check) treat as classes. "__proto__" stays an own key.
 */
function clone(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(clone);
  if (typeof value !== 'object' || value === null) return value;
  const copy: object = Object.getPrototypeOf(value) === null ? Object.create(null) : {};
  for (const key of Object.keys(value)) {
    Object.defineProperty(copy, key, {
      value: clone((value as Record<string, unknown>)[key]),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return copy;
}

/** Own keys in order, at every depth, with each object's class: what toEqual does not compare. */
function shape(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(shape);
  if (typeof value !== 'object' || value === null) return value;
  const prototype = Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null;
  return {
    class: prototype?.constructor?.name ?? null,
    entries: Object.keys(value).map((key) => [key, shape((value as Record<string, unknown>)[key])]),
  };
}

export interface Comparison {
  old: Outcome;
  current: Outcome;
  /** Whether the compiled check vouched for the value by itself. */
  compiledAccepted: boolean;
}

function expectSame(old: Outcome, current: Outcome, raw: unknown): void {
  const same =
    old.ok === current.ok &&
    (old.ok
      ? isDeepStrictEqual(old.value, (current as { value: unknown }).value) &&
        isDeepStrictEqual(shape(old.value), shape((current as { value: unknown }).value))
      : isDeepStrictEqual(old.message, (current as { message: unknown }).message));
  if (!same) {
    throw new Error(
      `validation differs for ${JSON.stringify(raw)}:\nold ${JSON.stringify(old)}\nnew ${JSON.stringify(current)}`,
    );
  }
}

/** validateParams with and without the compiled check: same value, or same message. */
export async function compareParams(type: Type<object>, raw: unknown): Promise<Comparison> {
  const old = await withoutCompiled(() =>
    outcomeOf(() => validateParams(type, clone(raw) as Record<string, unknown>)),
  );
  const compiled = compiledDto(type);
  // The input rule comes first, whichever check follows.
  const compiledAccepted =
    compiled !== null &&
    inputProblem(raw, 'params') === null &&
    compiled.plain(clone(raw)) !== REFUSED;
  const current = await outcomeOf(() =>
    validateParams(type, clone(raw) as Record<string, unknown>),
  );
  expectSame(old, current, raw);
  if (compiledAccepted && !old.ok) throw new Error(`compiled accepted ${JSON.stringify(raw)}`);
  return { old, current, compiledAccepted };
}

/** The global pipe (createValidationPipe()) on a body, with and without the compiled check. */
export async function compareBody(
  pipe: PipeTransform,
  type: Type<object>,
  raw: unknown,
): Promise<Comparison> {
  const metadata: ArgumentMetadata = { type: 'body', metatype: type, data: undefined };
  const old = await withoutCompiled(() =>
    outcomeOf(() => pipe.transform(clone(raw), metadata) as Promise<unknown>),
  );
  const compiled = compiledDto(type);
  const compiledAccepted =
    compiled !== null && inputProblem(raw) === null && compiled.instance(clone(raw)) !== REFUSED;
  const current = await outcomeOf(() => pipe.transform(clone(raw), metadata) as Promise<unknown>);
  expectSame(old, current, raw);
  if (compiledAccepted && !old.ok) throw new Error(`compiled accepted ${JSON.stringify(raw)}`);
  return { old, current, compiledAccepted };
}

/** Keys class-transformer or the pipe treat apart, which the compiled check leaves to them. */
export function hasSpecialKey(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(hasSpecialKey);
  if (typeof value !== 'object' || value === null) return false;
  return Object.keys(value).some(
    (key) =>
      key === 'prototype' ||
      Object.prototype.hasOwnProperty.call(Object.prototype, key) ||
      hasSpecialKey((value as Record<string, unknown>)[key]),
  );
}
