/**
 * The one place environment variables are read and checked. Every bad value is refused as
 * `Invalid configuration: NAME must be <rule> (got "value")`; a secret's or URL's value is
 * never echoed, since it may hold a credential.
 */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`Invalid configuration: ${variable} ${reason}`);
    this.name = 'ConfigError';
  }
}

export type Env = Record<string, string | undefined>;

export function raw(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

export function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (!/^-?\d+$/.test(value)) throw new ConfigError(name, `must be an integer (got "${value}")`);
  const n = Number(value);
  if (n < min || n > max) {
    throw new ConfigError(name, `must be between ${min} and ${max} (got ${n})`);
  }
  return n;
}

export function oneOf<T extends string>(
  env: Env,
  name: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(name, `must be one of ${allowed.join(', ')} (got "${value}")`);
  }
  return value as T;
}

export function bool(env: Env, name: string, fallback: boolean): boolean {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new ConfigError(name, `must be true or false (got "${value}")`);
}

/** A string matching `pattern`, described by `rule` in the error; undefined when unset. */
export function text(
  env: Env,
  name: string,
  pattern: RegExp,
  rule: string,
  secret = false,
): string | undefined {
  const value = raw(env, name);
  if (value !== undefined && !pattern.test(value)) {
    throw new ConfigError(name, `must be ${rule}${secret ? '' : ` (got "${value}")`}`);
  }
  return value;
}

export interface ListRules {
  /** What an entry must satisfy, and how the error names it ("a host name"). */
  entry: RegExp | ((entry: string) => boolean);
  what: string;
  unique?: boolean;
}

/** A comma-separated list; blank entries are dropped. */
export function list(
  env: Env,
  name: string,
  fallback: readonly string[],
  rules: ListRules,
): string[] {
  const value = raw(env, name);
  if (value === undefined) return [...fallback];
  const entries = value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  const { entry: rule } = rules;
  const valid = rule instanceof RegExp ? (entry: string) => rule.test(entry) : rule;
  const bad = entries.find((entry) => !valid(entry));
  if (bad !== undefined) throw new ConfigError(name, `has "${bad}", which is not ${rules.what}`);
  if (rules.unique) {
    const twice = entries.find((entry, index) => entries.indexOf(entry) !== index);
    if (twice !== undefined) throw new ConfigError(name, `names "${twice}" twice`);
  }
  return entries;
}

export interface UrlRules {
  fallback?: string;
  /** A user or password in the URL would end up in error messages and logs. */
  noCredentials?: boolean;
  noQuery?: boolean;
  /** Added to the wrong-protocol error, e.g. how to allow another protocol. */
  protocolHint?: string;
}

export function url(
  env: Env,
  name: string,
  protocols: readonly string[],
  rules: UrlRules & { fallback: string },
): string;
export function url(
  env: Env,
  name: string,
  protocols: readonly string[],
  rules?: UrlRules,
): string | undefined;
export function url(
  env: Env,
  name: string,
  protocols: readonly string[],
  rules: UrlRules = {},
): string | undefined {
  const value = raw(env, name) ?? rules.fallback;
  if (value === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new ConfigError(name, 'must be a URL');
  }
  if (!protocols.includes(parsed.protocol)) {
    const hint = rules.protocolHint === undefined ? '' : `; ${rules.protocolHint}`;
    throw new ConfigError(
      name,
      `must use ${protocols.join(' or ')} (got ${parsed.protocol}${hint})`,
    );
  }
  const hasCredentials = parsed.username !== '' || parsed.password !== '';
  if ((rules.noCredentials && hasCredentials) || (rules.noQuery && parsed.search !== '')) {
    const forbidden = [rules.noCredentials && 'credentials', rules.noQuery && 'a query string'];
    throw new ConfigError(name, `must not carry ${forbidden.filter(Boolean).join(' or ')}`);
  }
  return value;
}
