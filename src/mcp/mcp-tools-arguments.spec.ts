import { BadRequestException } from '@nestjs/common';
import { submitBody } from './mcp-tools';

describe("a kind tool's arguments (submitBody)", () => {
  const refusal = async (args: Record<string, unknown>): Promise<string> => {
    const error = await submitBody(args, '1').then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(error).toBeInstanceOf(BadRequestException);
    return (error as Error).message;
  };

  it('splits projectId and priority from the params', async () => {
    const body = await submitBody({ projectId: 'p', priority: 'high', text: 'x' }, '7');
    expect(body).toMatchObject({ projectId: 'p', priority: 'high', params: { text: 'x' } });
  });

  // The rules POST /jobs/:kind applies to its body, which the MCP path skipped.
  it('refuses NUL and lone surrogates in any argument, naming it', async () => {
    expect(await refusal({ projectId: 'p\u0000' })).toMatch(
      /^arguments\.projectId must be text without NUL/,
    );
    expect(await refusal({ projectId: 'p', text: 'x\udc00' })).toMatch(
      /^arguments\.text must be text/,
    );
  });

  it('names the arguments when a property name itself is not text', async () => {
    expect(await refusal({ projectId: 'p', '\u0000': false })).toMatch(
      /^arguments has a property name with a NUL character/,
    );
  });

  it('refuses null for an optional argument (the null rule)', async () => {
    expect(await refusal({ projectId: 'p', priority: null })).toMatch(
      /^priority must not be null; omit it/,
    );
  });

  it('refuses arguments nested deeper than the input rule allows', async () => {
    let deep: unknown = 1;
    for (let i = 0; i < 40; i += 1) deep = { a: deep };
    expect(await refusal({ projectId: 'p', extra: deep })).toMatch(/nested more than 32 levels/);
  });
});
