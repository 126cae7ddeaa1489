import { BadRequestException } from '@nestjs/common';
import { Type } from 'class-transformer';
import { IsInt, IsString, Max, ValidateNested } from 'class-validator';
import { validateParams } from './validation';

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
