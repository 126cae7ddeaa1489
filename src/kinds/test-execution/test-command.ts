const FORBIDDEN: Record<string, string> = {
  ';': '";"',
  '|': '"|"',
  '&': '"&"',
  $: '"$"',
  '`': '"`"',
  '>': '">"',
  '<': '"<"',
  '\n': 'a newline',
  '\r': 'a carriage return',
};

/**
 * Splits a command line into argv the way a shell would for plain words and quotes, without a
 * shell: anything that would make a shell do more than run one program is refused.
 */
export function splitCommand(command: string): { argv: string[] } | { error: string } {
  for (const char of command) {
    const name = FORBIDDEN[char];
    if (name) return { error: `params.testCommand must not contain ${name}` };
  }
  const argv: string[] = [];
  let current = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (const char of command) {
    if (quote) {
      if (char === quote) quote = null;
      else current += char;
    } else if (char === '"' || char === "'") {
      quote = char;
      inWord = true;
    } else if (/\s/.test(char)) {
      if (inWord) argv.push(current);
      current = '';
      inWord = false;
    } else {
      current += char;
      inWord = true;
    }
  }
  if (quote) return { error: `params.testCommand has an unclosed ${quote} quote` };
  if (inWord) argv.push(current);
  if (argv.length === 0) return { error: 'params.testCommand must name a command' };
  return { argv };
}
