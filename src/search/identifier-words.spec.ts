import { identifierWords, looksLikePath, queryWords, symbolOf } from './identifier-words';

describe('identifierWords', () => {
  it.each([
    ['parseConfig', ['parseconfig', 'parse', 'config']],
    ['user_repository.find', ['user_repository', 'user', 'repository', 'find']],
    ['src/auth/session.ts', ['src', 'auth', 'session', 'ts']],
    ['HTTPServer2', ['httpserver2', 'http', 'server', '2']],
    ['MAX_RETRY_COUNT', ['max_retry_count', 'max', 'retry', 'count']],
    ['$scope _private', ['scope', 'private']],
    ['a + b', ['a', 'b']],
  ])('%s', (text, words) => {
    expect(identifierWords(text)).toEqual(words);
  });
});

describe('queryWords', () => {
  it('dedupes and keeps only tsquery-safe words', () => {
    expect(queryWords("parse parseConfig's | & ! :*")).toEqual([
      'parse',
      'parseconfig',
      'config',
      's',
    ]);
  });
});

describe('symbolOf / looksLikePath', () => {
  it.each([
    ['parseConfig', 'parseConfig'],
    ['Queue.add', 'add'],
    ['Foo::bar()', 'bar'],
    ['how are jobs retried', null],
  ])('symbolOf(%s)', (query, symbol) => expect(symbolOf(query)).toBe(symbol));

  it.each([
    ['src/auth/session.ts', true],
    ['session.ts', true],
    ['parseConfig', false],
    ['retry a job', false],
  ])('looksLikePath(%s)', (query, path) => expect(looksLikePath(query)).toBe(path));
});
