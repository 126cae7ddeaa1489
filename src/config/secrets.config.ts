import { createHash } from 'node:crypto';
import { ConfigError, raw, type Env } from './env-readers';

/** An AES-256 key and its id: the first 8 hex digits of the key's SHA-256. */
export interface SecretKey {
  id: string;
  key: Buffer;
}

export interface SecretsConfig {
  /** SECRETS_KEY: seals new values; unset, a request carrying a secret answers 501. */
  current: SecretKey | undefined;
  /** SECRETS_KEY_PREVIOUS: still opens values sealed before a rotation. */
  previous: SecretKey | undefined;
}

const KEY_RULE = 'a 32-byte key given as 64 hex digits or as base64';

export function secretKeyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

/** 64 hex digits, or base64 (standard or url-safe, padded or not) of exactly 32 bytes. */
function readKey(env: Env, name: string): SecretKey | undefined {
  const value = raw(env, name);
  if (value === undefined) return undefined;
  let key: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(value)) key = Buffer.from(value, 'hex');
  else if (/^[A-Za-z0-9+/_-]{43}={0,1}$/.test(value)) key = Buffer.from(value, 'base64');
  // The value is a secret: the error says the rule, never what was given.
  if (key?.length !== 32) throw new ConfigError(name, `must be ${KEY_RULE}`);
  return { id: secretKeyId(key), key };
}

/** SECRETS_KEY, SECRETS_KEY_PREVIOUS (docs/credentials.md). */
export function parseSecretsConfig(env: Env): SecretsConfig {
  const current = readKey(env, 'SECRETS_KEY');
  const previous = readKey(env, 'SECRETS_KEY_PREVIOUS');
  if (previous && !current) {
    throw new ConfigError('SECRETS_KEY_PREVIOUS', 'needs SECRETS_KEY (the key that replaces it)');
  }
  return { current, previous: previous?.id === current?.id ? undefined : previous };
}
