import { splitCommand } from './test-command';

function argv(command: string): string[] {
  const split = splitCommand(command);
  if ('error' in split)
    throw new Error(`expected argv for ${JSON.stringify(command)}: ${split.error}`);
  return split.argv;
}

function error(command: string): string {
  const split = splitCommand(command);
  if (!('error' in split)) throw new Error(`expected an error for ${JSON.stringify(command)}`);
  return split.error;
}

describe('splitCommand', () => {
  it('splits plain words on any run of whitespace', () => {
    expect(argv('npm test')).toEqual(['npm', 'test']);
    expect(argv('  node   --test\ttest/a.test.js  ')).toEqual(['node', '--test', 'test/a.test.js']);
    expect(argv('jest')).toEqual(['jest']);
  });

  it('keeps quoted text together and drops the quotes, as a shell would', () => {
    expect(argv('npx jest -t "adds two numbers"')).toEqual([
      'npx',
      'jest',
      '-t',
      'adds two numbers',
    ]);
    expect(argv("pytest -k 'not slow'")).toEqual(['pytest', '-k', 'not slow']);
    // Quotes of one kind are literal inside the other.
    expect(argv(`node -e "console.log('hi')"`)).toEqual(['node', '-e', "console.log('hi')"]);
    expect(argv(`go test -run 'Test"Quoted"'`)).toEqual(['go', 'test', '-run', 'Test"Quoted"']);
    // Quoted and unquoted parts of one word join.
    expect(argv('jest --testNamePattern="a b"c')).toEqual(['jest', '--testNamePattern=a bc']);
    // An empty quoted word is still an argument.
    expect(argv('node "" x')).toEqual(['node', '', 'x']);
    expect(argv("npm test -- ''")).toEqual(['npm', 'test', '--', '']);
  });

  it.each([
    [';', 'npm test; rm -rf /', '";"'],
    ['|', 'npm test | tee out', '"|"'],
    ['&', 'npm test && curl x', '"&"'],
    ['$', 'npm test $HOME', '"$"'],
    ['`', 'npm test `id`', '"`"'],
    ['>', 'npm test > out.txt', '">"'],
    ['<', 'npm test < in.txt', '"<"'],
    ['a newline', 'npm test\nrm -rf /', 'a newline'],
    ['a carriage return', 'npm test\rrm -rf /', 'a carriage return'],
  ])('refuses %s, naming it', (_label, command, name) => {
    expect(error(command)).toBe(`params.testCommand must not contain ${name}`);
  });

  it('refuses forbidden characters even inside quotes (no shell, so nothing is "safe")', () => {
    expect(error('node -e "a; b"')).toBe('params.testCommand must not contain ";"');
    expect(error("jest -t '$x'")).toBe('params.testCommand must not contain "$"');
  });

  it('names the first forbidden character of the command', () => {
    expect(error('a | b ; c')).toBe('params.testCommand must not contain "|"');
  });

  it('refuses an unclosed quote, naming the quote', () => {
    expect(error('jest -t "adds')).toBe('params.testCommand has an unclosed " quote');
    expect(error("pytest -k 'slow")).toBe("params.testCommand has an unclosed ' quote");
  });

  it('refuses a command with no words', () => {
    expect(error('')).toBe('params.testCommand must name a command');
    expect(error('   \t ')).toBe('params.testCommand must name a command');
  });
});
