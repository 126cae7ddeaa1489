import { ApiPropertyOptional } from '@nestjs/swagger';
import { Expose, Transform, Type } from 'class-transformer';
import {
  Allow,
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsDefined,
  IsEmail,
  IsIn,
  IsInt,
  IsNumber,
  IsObject,
  IsOptional,
  IsString,
  IsUUID,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  Validate,
  ValidateIf,
  ValidateNested,
  ValidatorConstraint,
  type ValidatorConstraintInterface,
} from 'class-validator';
import fc from 'fast-check';
import { compareParams } from '../../test/support/validation-differential';
import { compiledDto, REFUSED } from './compiled-validation';

class Leaf {
  @IsString() @Length(1, 3) name!: string;
  @IsOptional() @IsInt() @Min(0) @Max(9) rank?: number;
}

class Everything {
  @IsString() @MinLength(2) @MaxLength(4) text!: string;
  @IsOptional() @IsInt() @Min(-1) @Max(1) int?: number;
  @IsOptional() @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0) @Max(2) num?: number;
  @IsOptional() @IsBoolean() flag?: boolean;
  @IsOptional() @IsIn(['a', 'b', 1]) choice?: string | number;
  @IsOptional()
  @IsString()
  @Matches(/^[a-c]+$/, { message: 'word must be a, b or c' })
  word?: string;
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(3)
  @IsString({ each: true })
  @Length(1, 2, { each: true })
  list?: string[];
  @IsOptional() @IsArray() @Matches(/^x+$/, { each: true }) xs?: string[];
  @IsOptional() @IsObject() free?: Record<string, unknown>;
  @IsOptional() @IsUUID('all') id?: string;
  @IsOptional() @ValidateNested() @Type(() => Leaf) leaf?: Leaf;
  @IsOptional() @IsArray() @ValidateNested({ each: true }) @Type(() => Leaf) leaves?: Leaf[];

  @ApiPropertyOptional({ nullable: true, type: String })
  @IsOptional()
  @IsString()
  clearable?: string | null;
}

/** Values at every edge the decorators above have, right and wrong. */
const edges: Record<keyof Everything, unknown[]> = {
  text: ['ab', 'abcd', 'a', 'abcde', '💥💥', '💥💥💥', 'e\u0301e\u0301', '', 3, null, ['ab']],
  int: [-1, 1, 0, 2, -2, 0.5, 1.0, '1', null, Number.MAX_SAFE_INTEGER, true],
  num: [0, 2, 1.5, 2.0000001, -0, '1', null, false, 1e-300],
  flag: [true, false, 'true', 0, 1, null],
  choice: ['a', 'b', 1, '1', 'c', null, ['a']],
  word: ['abc', 'abd', '', 'ABC', 5, null],
  list: [[], ['a'], ['a', 'bb', 'c'], ['a', 'b', 'c', 'd'], [''], ['abc'], [1], 'a', null, [null]],
  xs: [[], ['x'], ['xx', 'y'], 'x', 'y', [1], null],
  free: [{}, { a: 1 }, [], 'x', null, { a: { b: [1, { c: null }] } }],
  id: ['123e4567-e89b-12d3-a456-426614174000', '123e4567', '', null, 1],
  leaf: [{ name: 'a' }, { name: '' }, { name: 'a', rank: 9 }, { name: 'a', rank: 10 }, {}, 'x'],
  leaves: [[], [{ name: 'a' }], [{ name: 'a' }, { name: 'b', rank: null }], [{}], ['x'], [[]]],
  clearable: ['x', null, 1],
};

describe('compiled validation: what it accepts is what class-validator accepts', () => {
  it('compiles a class using every modelled decorator', () => {
    expect(compiledDto(Everything)).not.toBeNull();
  });

  it.each(Object.entries(edges))('%s: every edge value ends the same', async (key, values) => {
    for (const value of values) {
      const { old, compiledAccepted } = await compareParams(Everything, {
        text: 'ab',
        [key]: value,
      });
      expect(compiledAccepted).toBe(old.ok);
    }
  });

  it('refuses unknown and missing properties, null where not nullable, as class-validator says', async () => {
    for (const raw of [{ text: 'ab', extra: 1 }, {}, { text: 'ab', int: null }, { text: null }]) {
      const { old, compiledAccepted } = await compareParams(Everything, raw);
      expect(old.ok).toBe(false);
      expect(compiledAccepted).toBe(false);
    }
  });

  it('random combinations end the same', async () => {
    const arbitrary = fc.record(
      Object.fromEntries(
        Object.entries(edges).map(([key, values]) => [key, fc.constantFrom(...values)]),
      ),
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(arbitrary, async (raw) => {
        const { old, compiledAccepted } = await compareParams(Everything, raw);
        expect(compiledAccepted).toBe(old.ok);
      }),
      { numRuns: 300 },
    );
  });

  it('returns what instanceToPlain returned: unset fields too, in the class order', () => {
    const compiled = compiledDto(Everything)!;
    const plain = compiled.plain({ leaf: { name: 'a' }, text: 'ab' });
    expect(plain).not.toBe(REFUSED);
    expect(Object.keys(plain)[0]).toBe('text');
    expect(plain).toHaveProperty('int', undefined);
    const instance = compiled.instance({ text: 'ab', leaf: { name: 'a' } }) as Everything;
    expect(instance).toBeInstanceOf(Everything);
    expect(instance.leaf).toBeInstanceOf(Leaf);
  });

  it('leaves keys class-transformer drops to it, and the result is the same', async () => {
    for (const key of ['__proto__', 'constructor', 'toString', 'prototype']) {
      const raw = JSON.parse(`{"text":"ab","free":{"${key}":1,"a":2}}`) as Record<string, unknown>;
      // Old and new end the same (compareParams checks), whatever that is ("constructor" throws).
      const { compiledAccepted } = await compareParams(Everything, raw);
      expect(compiledAccepted).toBe(false);
    }
  });
});

@ValidatorConstraint({ name: 'even' })
class Even implements ValidatorConstraintInterface {
  validate(value: unknown) {
    return typeof value === 'number' && value % 2 === 0;
  }
}

class WithValidateIf {
  @IsString() kind!: string;
  @ValidateIf((o: WithValidateIf) => o.kind === 'n') @IsInt() n?: number;
}
class WithIsDefined {
  @IsDefined() @IsString() a!: string;
}
class WithUnmodelled {
  @IsEmail() email!: string;
}
class WithCustom {
  @Validate(Even) n!: number;
}
class WithTransform {
  @Transform(({ value }: { value: unknown }) => String(value)) @IsString() a!: string;
}
class WithExpose {
  @Expose({ name: 'b' }) @IsString() a!: string;
}
class WithSticky {
  @Matches(/a/y) a!: string;
}
class WithTypeNumber {
  @Type(() => Number) @IsInt() n!: number;
}
class WithDefault {
  @IsOptional() @IsInt() n?: number = 3;
}
class WithAllow {
  @Allow() anything?: unknown;
}
class Untyped {
  @ValidateNested() leaf!: Leaf;
}
class Cyclic {
  @IsString() name!: string;
  @IsOptional() @ValidateNested() @Type(() => Cyclic) next?: Cyclic;
}
class InnerUnmodelled {
  @IsEmail() email!: string;
}
class OuterOfUnmodelled {
  @ValidateNested() @Type(() => InnerUnmodelled) inner!: InnerUnmodelled;
}

describe('compiled validation: what it does not model goes the old way', () => {
  it.each([
    ['@ValidateIf', WithValidateIf, [{ kind: 'n', n: 1 }, { kind: 'n', n: 'x' }, { kind: 's' }]],
    ['@IsDefined', WithIsDefined, [{ a: 'x' }, {}]],
    ['a decorator not modelled (@IsEmail)', WithUnmodelled, [{ email: 'a@b.co' }, { email: 'x' }]],
    ['a constraint class (@Validate)', WithCustom, [{ n: 2 }, { n: 3 }]],
    ['@Transform', WithTransform, [{ a: 1 }, { a: 'x' }]],
    ['@Expose', WithExpose, [{ b: 'x' }, { a: 'x' }]],
    // class-validator's own answer to a sticky expression moves with its lastIndex: one value.
    ['a sticky expression', WithSticky, [{ a: 'b' }]],
    ['@Type on a value that is not nested', WithTypeNumber, [{ n: '3' }, { n: 'x' }]],
    ['a field initialiser', WithDefault, [{}, { n: 'x' }]],
    ['@Allow', WithAllow, [{ anything: 1 }, { other: 1 }]],
    ['@ValidateNested without @Type', Untyped, [{ leaf: { name: 'a' } }, { leaf: 1 }]],
    ['a class nesting itself', Cyclic, [{ name: 'a', next: { name: 'b' } }, { name: 1 }]],
    ['a nested class not modelled', OuterOfUnmodelled, [{ inner: { email: 'a@b.co' } }, {}]],
  ] as [string, new () => object, Record<string, unknown>[]][])(
    '%s: not compiled, validated as before',
    async (_name, type, values) => {
      expect(compiledDto(type)).toBeNull();
      for (const raw of values) {
        const { compiledAccepted } = await compareParams(type, raw);
        expect(compiledAccepted).toBe(false);
      }
    },
  );

  it('a class without any rule is not compiled (forbidUnknownValues refuses it)', () => {
    class Bare {
      a?: string;
    }
    expect(compiledDto(Bare)).toBeNull();
  });
});
