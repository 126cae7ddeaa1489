import { BadRequestException } from '@nestjs/common';
import { searchArguments } from './search-code-tool';

describe('search_code arguments', () => {
  const refusal = (args: Record<string, unknown>): string => {
    try {
      searchArguments(args);
    } catch (error) {
      expect(error).toBeInstanceOf(BadRequestException);
      return (error as Error).message;
    }
    throw new Error('accepted');
  };

  it('accepts a project and a query, the limit defaulting to 10', () => {
    expect(searchArguments({ projectId: 'p', q: 'greeting' })).toEqual({
      projectId: 'p',
      q: 'greeting',
      limit: 10,
    });
  });

  // Found by the fuzz tier: an extra property named "" was refused as " is not an allowed property".
  it('names an extra property, quoting an empty or odd name', () => {
    expect(refusal({ projectId: 'p', q: 'x', colour: 1 })).toBe(
      'colour is not an allowed property',
    );
    expect(refusal({ projectId: 'p', q: 'x', '': [] })).toBe('"" is not an allowed property');
    expect(refusal({ projectId: 'p', q: 'x', 'a b': 1 })).toBe('"a b" is not an allowed property');
  });

  it('applies the input rules of every REST body: no NUL, no lone surrogate, no null', () => {
    expect(refusal({ projectId: 'p', q: 'a\u0000b' })).toMatch(
      /^arguments\.q must be text without NUL/,
    );
    expect(refusal({ projectId: 'p\ud800', q: 'x' })).toMatch(
      /^arguments\.projectId must be text without/,
    );
    expect(refusal({ projectId: 'p', q: 'x', limit: null })).toMatch(/^limit must not be null/);
  });
});
