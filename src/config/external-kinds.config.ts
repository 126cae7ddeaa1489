import { ConfigError, raw, type Env } from './env-readers';

export const EXTERNAL_ITEM_FORMATS = ['json', 'id'] as const;
export type ExternalItemFormat = (typeof EXTERNAL_ITEM_FORMATS)[number];

/** A kind run by workers outside Conveyor, fed through a Redis list (docs/external-workers.md). */
export interface ExternalKindConfig {
  name: string;
  /** The Redis list each submitted job is RPUSHed to. */
  list: string;
  /** `json`: the JSON job item; `id`: the bare-id item (docs/external-workers.md). */
  item: ExternalItemFormat;
  /** An extra status channel in the agent status format `{ jobId, status, userId, error? }`. */
  statusChannel: string | null;
  /** A job no worker finishes within this long after it was pushed ends in error. */
  timeoutMs: number;
}

const KIND_NAME = /^[a-z][a-z0-9-]{0,62}$/;
const REDIS_KEY = /^[\x21-\x7e]{1,256}$/;

/** `code-review` → `EXTERNAL_CODE_REVIEW_<suffix>`. */
export function externalVariable(kind: string, suffix: string): string {
  return `EXTERNAL_${kind.toUpperCase().replace(/-/g, '_')}_${suffix}`;
}

function key(env: Env, name: string): string | undefined {
  const value = raw(env, name);
  if (value !== undefined && !REDIS_KEY.test(value)) {
    throw new ConfigError(name, 'must be 1-256 printable characters without spaces');
  }
  return value;
}

/** EXTERNAL_KINDS and each kind's EXTERNAL_<KIND>_* variables. */
export function parseExternalKinds(
  env: Env,
  prefix: string,
  defaultTimeoutMs: number,
): ExternalKindConfig[] {
  const names = (raw(env, 'EXTERNAL_KINDS') ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  const seen = new Set<string>();
  const lists = new Map<string, string>();
  return names.map((name) => {
    if (!KIND_NAME.test(name)) {
      throw new ConfigError(
        'EXTERNAL_KINDS',
        `has "${name}", which is not a kind name (lower-case kebab-case: a-z, 0-9, -)`,
      );
    }
    if (seen.has(name)) throw new ConfigError('EXTERNAL_KINDS', `names "${name}" twice`);
    seen.add(name);
    const listVar = externalVariable(name, 'LIST');
    const list = key(env, listVar) ?? `${prefix}:external:${name}`;
    const other = lists.get(list);
    if (other !== undefined) {
      throw new ConfigError(listVar, `is the list of kind "${other}" too (${list})`);
    }
    lists.set(list, name);
    const itemVar = externalVariable(name, 'ITEM');
    const item = raw(env, itemVar) ?? 'json';
    if (!(EXTERNAL_ITEM_FORMATS as readonly string[]).includes(item)) {
      throw new ConfigError(itemVar, `must be json or id (got "${item}")`);
    }
    const timeoutVar = externalVariable(name, 'TIMEOUT_MS');
    const rawTimeout = raw(env, timeoutVar);
    let timeoutMs = defaultTimeoutMs;
    if (rawTimeout !== undefined) {
      if (!/^\d+$/.test(rawTimeout)) {
        throw new ConfigError(timeoutVar, `must be an integer (got "${rawTimeout}")`);
      }
      timeoutMs = Number(rawTimeout);
      if (timeoutMs < 100 || timeoutMs > 7 * 86_400_000) {
        throw new ConfigError(timeoutVar, `must be between 100 and ${7 * 86_400_000}`);
      }
    }
    return {
      name,
      list,
      item: item as ExternalItemFormat,
      statusChannel: key(env, externalVariable(name, 'STATUS_CHANNEL')) ?? null,
      timeoutMs,
    };
  });
}
