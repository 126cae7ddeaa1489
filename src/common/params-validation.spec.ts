import { BadRequestException } from '@nestjs/common';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, ValidateNested } from 'class-validator';
import { inputProblem, MAX_INPUT_DEPTH, validateParams } from './params-validation';

class FileParam {
  @IsString() path!: string;
}

class Params {
  @IsString() prompt!: string;
  @IsInt() @Max(10) count!: number;
  @ValidateNested({ each: true }) @Type(() => FileParam) files!: FileParam[];
}

async function messageOf(raw: Record<string, unknown>): Promise<string> {
  try {
    await validateParams(Params, raw);
  } catch (error) {
    expect(error).toBeInstanceOf(BadRequestException);
    return (error as BadRequestException).message;
  }
  throw new Error('expected a validation error');
}

describe('validateParams', () => {
  it('returns the validated plain value', async () => {
    await expect(
      validateParams(Params, { prompt: 'p', count: 1, files: [{ path: 'a' }] }),
    ).resolves.toEqual({ prompt: 'p', count: 1, files: [{ path: 'a' }] });
  });

  it('names every bad field under params, nested ones by path', async () => {
    const message = await messageOf({ prompt: 3, count: 11, files: [{ path: 1 }] });
    expect(message).toContain('params.prompt must be a string');
    expect(message).toContain('params.count must not be greater than 10');
    expect(message).toContain('params.files.0.path must be a string');
  });

  it('refuses unknown properties', async () => {
    const message = await messageOf({ prompt: 'p', count: 1, files: [], extra: true });
    expect(message).toContain('params.extra is not an allowed property');
  });
});

class Inner {
  @IsOptional() @IsString() note?: string;
}

class WithOptionals {
  @IsOptional() @IsString() label?: string;

  @ApiPropertyOptional({ nullable: true, type: String })
  @IsOptional()
  @IsString()
  clearable?: string | null;

  @IsOptional() @ValidateNested({ each: true }) @Type(() => Inner) inner?: Inner[];
}

async function problemOf(type: new () => object, raw: Record<string, unknown>): Promise<string> {
  try {
    await validateParams(type, raw);
  } catch (error) {
    return (error as BadRequestException).message;
  }
  throw new Error('expected a validation error');
}

describe('the null rule', () => {
  it('refuses null for an optional property, naming it (regression: repoUrl null was a 500)', async () => {
    await expect(problemOf(WithOptionals, { label: null })).resolves.toBe(
      'params.label must not be null; omit it to leave it unset',
    );
  });

  it('accepts null where @ApiProperty says nullable, and absence everywhere', async () => {
    await expect(validateParams(WithOptionals, { clearable: null })).resolves.toEqual({
      clearable: null,
    });
    await expect(validateParams(WithOptionals, {})).resolves.toEqual({});
  });

  it('applies inside nested objects, by path', async () => {
    await expect(
      problemOf(WithOptionals, { inner: [{ note: 'a' }, { note: null }] }),
    ).resolves.toBe('params.inner.1.note must not be null; omit it to leave it unset');
  });
});

describe('inputProblem: what no JSON input may hold', () => {
  it.each([
    ['a NUL in a value (regression: project name, requestId)', { name: 'a\u0000b' }, 'name'],
    ['an unpaired high surrogate', { a: { b: 'x\ud800' } }, 'a.b'],
    ['an unpaired low surrogate', { list: ['ok', '\udc00'] }, 'list.1'],
  ])('refuses %s, naming the field', (_name, value, field) => {
    expect(inputProblem(value)).toBe(
      `${field} must be text without NUL characters or unpaired surrogates`,
    );
  });

  it('refuses a NUL in a property name', () => {
    expect(inputProblem({ params: { 'a\u0000': 1 } })).toBe(
      'params has a property name with a NUL character or unpaired surrogate',
    );
  });

  it('accepts paired surrogates (emoji) and every other character', () => {
    expect(inputProblem({ text: '💥 \u202e\t\r\n é 中' })).toBeNull();
  });

  it('refuses nesting past the bound, naming the top field, without recursing', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i += 1) deep = { a: deep };
    expect(inputProblem({ params: deep })).toBe(
      `params is nested more than ${MAX_INPUT_DEPTH} levels deep`,
    );
    expect(inputProblem(deep, 'params')).toBe(
      `params.a is nested more than ${MAX_INPUT_DEPTH} levels deep`,
    );
    let list: unknown = [];
    for (let i = 0; i < MAX_INPUT_DEPTH + 5; i += 1) list = [list];
    expect(inputProblem(list)).toBe(`body is nested more than ${MAX_INPUT_DEPTH} levels deep`);
  });

  it('accepts nesting up to the bound', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < MAX_INPUT_DEPTH - 1; i += 1) deep = { a: deep };
    expect(inputProblem(deep)).toBeNull();
  });
});

describe('describeValidationErrors', () => {
  it('quotes an empty or odd property name so the message still shows it', async () => {
    const message = await messageOf({ prompt: 'p', count: 1, files: [], '': 1 });
    expect(message).toContain('params."" is not an allowed property');
  });
});
