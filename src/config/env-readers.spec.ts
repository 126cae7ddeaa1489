import { bool, ConfigError, int, list, oneOf, raw, text, url, type Env } from './env-readers';

function refusal(read: () => unknown): ConfigError {
  try {
    read();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('environment readers', () => {
  it('treat unset and blank alike, and trim', () => {
    expect(raw({}, 'X')).toBeUndefined();
    expect(raw({ X: '   ' }, 'X')).toBeUndefined();
    expect(raw({ X: ' a ' }, 'X')).toBe('a');
    expect(int({ X: ' ' }, 'X', 7, 0, 10)).toBe(7);
    expect(int({ X: ' 10 ' }, 'X', 7, 0, 10)).toBe(10);
    expect(oneOf({}, 'X', ['a', 'b'], 'b')).toBe('b');
    expect(bool({ X: '1' }, 'X', false)).toBe(true);
    expect(bool({ X: 'false' }, 'X', true)).toBe(false);
  });

  const host = /^[a-z.]+$/;
  it.each<[string, (env: Env) => unknown, string]>([
    ['abc', (env) => int(env, 'X', 1, 1, 100), 'X must be an integer (got "abc")'],
    ['2.5', (env) => int(env, 'X', 1, 1, 100), 'X must be an integer (got "2.5")'],
    ['0', (env) => int(env, 'X', 1, 1, 100), 'X must be between 1 and 100 (got 0)'],
    ['-1', (env) => int(env, 'X', 1, 0, 100), 'X must be between 0 and 100 (got -1)'],
    ['c', (env) => oneOf(env, 'X', ['a', 'b'], 'a'), 'X must be one of a, b (got "c")'],
    ['yes', (env) => bool(env, 'X', false), 'X must be true or false (got "yes")'],
    ['A B', (env) => text(env, 'X', host, 'a host name'), 'X must be a host name (got "A B")'],
    [
      'a,B',
      (env) => list(env, 'X', [], { entry: host, what: 'a host' }),
      'X has "B", which is not a host',
    ],
    [
      'a,b,a',
      (env) => list(env, 'X', [], { entry: host, what: 'a host', unique: true }),
      'X names "a" twice',
    ],
    ['nope', (env) => url(env, 'X', ['https:']), 'X must be a URL'],
    [
      'ftp://h',
      (env) => url(env, 'X', ['https:', 'http:']),
      'X must use https: or http: (got ftp:)',
    ],
    [
      'http://h',
      (env) => url(env, 'X', ['https:'], { protocolHint: 'see Y' }),
      'X must use https: (got http:; see Y)',
    ],
    [
      'https://u:p@h',
      (env) => url(env, 'X', ['https:'], { noCredentials: true }),
      'X must not carry credentials',
    ],
    [
      'https://h/?k=1',
      (env) => url(env, 'X', ['https:'], { noCredentials: true, noQuery: true }),
      'X must not carry credentials or a query string',
    ],
  ])('refuse X=%j with one line naming X', (value, read, reason) => {
    const error = refusal(() => read({ X: value }));
    expect(error.variable).toBe('X');
    expect(error.message).toBe(`Invalid configuration: ${reason}`);
  });

  it('never echo a secret or a URL, which may hold a credential', () => {
    expect(refusal(() => text({ X: 'sk secret' }, 'X', /^\S+$/, 'a token', true)).message).toBe(
      'Invalid configuration: X must be a token',
    );
    expect(refusal(() => url({ X: 'x://user:secret@' }, 'X', ['https:'])).message).not.toContain(
      'secret',
    );
  });

  it('read lists without blank entries, and keep duplicates unless asked not to', () => {
    const rules = { entry: /^\w+$/, what: 'a word' };
    expect(list({ X: ' a, ,b ,a,' }, 'X', ['z'], rules)).toEqual(['a', 'b', 'a']);
    expect(list({}, 'X', ['z'], rules)).toEqual(['z']);
    expect(list({ X: 'a' }, 'X', [], { entry: (entry) => entry === 'a', what: 'a' })).toEqual([
      'a',
    ]);
  });

  it('read a URL as written, or its fallback', () => {
    expect(url({ X: 'https://h/x/' }, 'X', ['https:'])).toBe('https://h/x/');
    expect(url({}, 'X', ['https:'], { fallback: 'https://d' })).toBe('https://d');
    expect(url({}, 'X', ['https:'])).toBeUndefined();
  });
});
