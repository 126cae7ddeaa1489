import { ConfigError, int, list, oneOf, text, type Env } from './env-readers';

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

/**
 * What Redis Cluster hashes of a list name is its first non-empty `{…}`, else the whole name; the
 * kind's other keys borrow that as their hash tag, which cannot hold a `}` (docs/external-workers.md).
 */
function taggable(list: string): boolean {
  const tagged = /^[^{]*\{([^}]+)\}/.exec(list);
  return tagged !== null || !list.includes('}');
}

function key(env: Env, name: string): string | undefined {
  return text(env, name, REDIS_KEY, '1-256 printable characters without spaces');
}

/** EXTERNAL_KINDS and each kind's EXTERNAL_<KIND>_* variables. */
export function parseExternalKinds(
  env: Env,
  prefix: string,
  defaultTimeoutMs: number,
): ExternalKindConfig[] {
  const names = list(env, 'EXTERNAL_KINDS', [], {
    entry: KIND_NAME,
    what: 'a kind name (lower-case kebab-case: a-z, 0-9, -)',
    unique: true,
  });
  const lists = new Map<string, string>();
  return names.map((name) => {
    const listVar = externalVariable(name, 'LIST');
    const list = key(env, listVar) ?? `${prefix}:external:${name}`;
    if (!taggable(list)) {
      throw new ConfigError(listVar, `has a "}" outside a hash tag (${list})`);
    }
    const other = lists.get(list);
    if (other !== undefined) {
      throw new ConfigError(listVar, `is the list of kind "${other}" too (${list})`);
    }
    lists.set(list, name);
    return {
      name,
      list,
      item: oneOf(env, externalVariable(name, 'ITEM'), EXTERNAL_ITEM_FORMATS, 'json'),
      statusChannel: key(env, externalVariable(name, 'STATUS_CHANNEL')) ?? null,
      timeoutMs: int(
        env,
        externalVariable(name, 'TIMEOUT_MS'),
        defaultTimeoutMs,
        100,
        7 * 86_400_000,
      ),
    };
  });
}
