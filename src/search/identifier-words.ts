const IDENTIFIER = /[A-Za-z0-9_$]+/g;
const PART = /[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+/g;
const MAX_WORD = 60;

/**
 * The words of code text for full-text search: every identifier whole (lower-cased) and, when
 * it has several, its parts: `parseConfig` → parseconfig parse config, `user_repository.find` →
 * user_repository user repository find, `src/auth/session.ts` → src auth session ts.
 */
export function identifierWords(text: string): string[] {
  const words: string[] = [];
  for (const [identifier] of text.matchAll(IDENTIFIER)) {
    const parts = identifier.match(PART) ?? [];
    const whole = identifier.replace(/^[_$]+|[_$]+$/g, '').toLowerCase();
    if (whole.length > 0 && whole.length <= MAX_WORD) words.push(whole);
    if (parts.length > 1) {
      for (const part of parts) {
        if (part.length > 1 || /\d/.test(part)) words.push(part.toLowerCase());
      }
    }
  }
  return words;
}

/** The distinct words of a query, in order; each is [a-z0-9_$]+ and so safe in a tsquery. */
export function queryWords(query: string): string[] {
  return [...new Set(identifierWords(query).map((word) => word.replace(/\$/g, '')))].filter(
    (word) => /^[a-z0-9_]+$/.test(word),
  );
}

/** The last identifier of a query that names a symbol (`Queue.add` → add), or null. */
export function symbolOf(query: string): string | null {
  const trimmed = query.trim();
  if (!/^[A-Za-z_$][\w$]*(?:(?:\.|::|#)[A-Za-z_$][\w$]*)*(?:\(\))?$/.test(trimmed)) return null;
  const names = trimmed.replace(/\(\)$/, '').split(/\.|::|#/);
  return names[names.length - 1];
}

/** Whether a query reads as a path or file name (has a slash or ends in an extension). */
export function looksLikePath(query: string): boolean {
  const trimmed = query.trim();
  return !/\s/.test(trimmed) && (trimmed.includes('/') || /\.[A-Za-z]{1,5}$/.test(trimmed));
}

/** Words that frame a question rather than say what the code does. */
const FRAMING = new Set([
  'where',
  'decide',
  'decided',
  'decides',
  'determine',
  'determined',
  'determines',
  'how',
  'what',
  'which',
  'does',
  'happen',
  'happens',
  'handled',
  'code',
  'logic',
  'find',
  'implemented',
  'whether',
]);

/** The query's words without those that only frame a question (`where is … decided`). */
export function contentWords(words: string[]): string[] {
  const kept = words.filter((word) => !FRAMING.has(word));
  return kept.length > 0 ? kept : words;
}

/**
 * The identifiers named inside a sentence (`RetryHandler`, `kNeedDrain`, `parse_headers`,
 * `Queue.add`, `` `x` ``): the last name of each, as `symbolOf` gives it. A plain word
 * (`Headers`, `retry`) is not one: it reads as a word.
 */
export function identifiersIn(query: string): string[] {
  const found: string[] = [];
  for (const [token] of query.matchAll(
    /`[^`]+`|[A-Za-z_$][\w$]*(?:(?:\.|::|#)[A-Za-z_$][\w$]*)*(?:\(\))?/g,
  )) {
    const quoted = token.startsWith('`');
    const name = symbolOf(quoted ? token.slice(1, -1) : token);
    if (name === null) continue;
    const compound =
      /[a-z0-9][A-Z]/.test(token) || /[A-Za-z]_[A-Za-z]/.test(token) || /[.#:(]/.test(token);
    if ((quoted || compound) && !found.includes(name)) found.push(name);
  }
  return found;
}

/**
 * The text a query quotes, or the query itself when it reads like a message (several words, no
 * question word first), without a leading `SomeError:`; null when there is none.
 */
export function phraseOf(query: string): string | null {
  const quoted = /"([^"]{4,})"|'([^']{4,})'|`([^`]{4,})`/.exec(query);
  let text = quoted ? (quoted[1] ?? quoted[2] ?? quoted[3]) : query.trim();
  text = text.replace(/^(?:[A-Z]\w*)?Error:\s*/, '').trim();
  if (
    !quoted &&
    (text.split(/\s+/).length < 2 || /^(?:where|how|what|which|why|when|who)\b/i.test(text))
  ) {
    return null;
  }
  return text.length >= 4 && text.length <= 200 ? text : null;
}
