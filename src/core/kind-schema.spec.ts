import { Injectable } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsArray,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Length,
  Max,
  Min,
  ValidateNested,
} from 'class-validator';
import { defineJobKind, type JobContext, type JobKind, type JobProcessor } from './job.types';
import { paramsJsonSchema, resultJsonSchema, type JsonSchemaObject } from './kind-schema';

class Edit {
  @ApiProperty({ description: 'A path in the workspace' })
  @IsString()
  @Length(1, 300)
  path!: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsIn(['add', 'replace'])
  mode?: 'add' | 'replace';
}

class Tree {
  @ApiProperty() @IsString() name!: string;

  @ApiPropertyOptional({ type: () => [Tree] })
  @IsOptional()
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => Tree)
  children?: Tree[];
}

class NestedParams {
  @ApiProperty({ type: [Edit] })
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => Edit)
  edits!: Edit[];

  @ApiPropertyOptional({ type: Tree })
  @IsOptional()
  @ValidateNested()
  @Type(() => Tree)
  tree?: Tree;

  // Only class-validator knows this one: the schema still has it, typed and bounded.
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(9)
  depth?: number;
}

@Injectable()
class NoopProcessor implements JobProcessor<NestedParams, null> {
  process(_ctx: JobContext<NestedParams>): Promise<null> {
    return Promise.resolve(null);
  }
}

const nestedKind = defineJobKind({
  name: 'nested',
  params: NestedParams,
  processor: NoopProcessor,
});

function refs(schema: unknown): string[] {
  return JSON.stringify(schema).match(/"\$ref"/g) ?? [];
}

describe('kind schemas', () => {
  it('a kind without a result class has none (free-form)', () => {
    expect(resultJsonSchema(nestedKind)).toBeNull();
  });

  it('inlines nested classes, closes them, and cuts recursion', () => {
    const schema = paramsJsonSchema(nestedKind);
    expect(refs(schema)).toEqual([]);
    const edits = schema.properties?.edits as JsonSchemaObject;
    expect(edits).toMatchObject({
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['path'],
        properties: {
          path: { type: 'string', minLength: 1, maxLength: 300 },
          mode: { enum: ['add', 'replace'] },
        },
      },
    });
    const tree = schema.properties?.tree as JsonSchemaObject;
    expect(tree).toMatchObject({ type: 'object', required: ['name'] });
    expect((tree.properties?.children as JsonSchemaObject).items).toMatchObject({ type: 'object' });
    expect(schema.properties?.depth).toEqual({ type: 'integer', minimum: 1, maximum: 9 });
    expect(schema.required).toEqual(['edits']);
  });

  it('an external kind takes any JSON object', () => {
    class ExternalParams {}
    const external = {
      name: 'rebalance',
      params: ExternalParams,
      external: { list: 'cv:external:rebalance', item: 'json', statusChannel: null },
    } as unknown as JobKind;
    expect(paramsJsonSchema(external)).toMatchObject({
      type: 'object',
      additionalProperties: true,
    });
    expect(resultJsonSchema(external)).toBeNull();
  });

  it('answers a fresh copy each time', () => {
    const first = paramsJsonSchema(nestedKind);
    first.properties = {};
    expect(Object.keys(paramsJsonSchema(nestedKind).properties ?? {})).toContain('edits');
  });
});
