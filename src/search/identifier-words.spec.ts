import {
  contentWords,
  identifierWords,
  identifiersIn,
  looksLikePath,
  phraseOf,
  queryWords,
  symbolOf,
} from './identifier-words';

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

describe('query analysis', () => {
  it.each([
    ['RetryHandler resumes a partial download', ['RetryHandler']],
    ['kNeedDrain in the pool when every client is busy', ['kNeedDrain']],
    ['what `dump` does and parse_headers()', ['dump', 'parse_headers']],
    ['Queue.add with a delay', ['add']],
    ['Headers and a retry of the request', []],
  ])('identifiersIn(%s)', (query, names) => expect(identifiersIn(query)).toEqual(names));

  it.each([
    [
      '"Body is unusable: Body has already been read"',
      'Body is unusable: Body has already been read',
    ],
    ["the message 'invalid opts' of request", 'invalid opts'],
    ['SocketError: other side closed', 'other side closed'],
    ['Invalid affinity. Must be either 4 or 6', 'Invalid affinity. Must be either 4 or 6'],
    ['where is a retry decided', null],
    ['parseConfig', null],
  ])('phraseOf(%s)', (query, phrase) => expect(phraseOf(query)).toBe(phrase));

  it('drops the words that only frame a question, unless nothing else is left', () => {
    expect(contentWords(['where', 'retry', 'decided'])).toEqual(['retry']);
    expect(contentWords(['where', 'decided'])).toEqual(['where', 'decided']);
  });
});
