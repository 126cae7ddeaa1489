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
