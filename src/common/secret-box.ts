import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { SecretKey, SecretsConfig } from '../config/secrets.config';

/** A value sealed with AES-256-GCM, and the id of the key that sealed it. */
export interface SealedSecret {
  /** `v1.<iv>.<tag>.<ciphertext>`, each base64url. */
  secret: string;
  keyId: string;
}

/** Sealing needs SECRETS_KEY, which is not set. */
export class SecretsKeyMissingError extends Error {
  override readonly name = 'SecretsKeyMissingError';
  constructor() {
    super('storing a credential needs SECRETS_KEY (32 bytes as 64 hex digits or base64)');
  }
}

/** A stored value no configured key opens. The message names key ids only, never a value. */
export class SecretUnreadableError extends Error {
  override readonly name = 'SecretUnreadableError';
}

const VERSION = 'v1';

/**
 * Seals and opens small secrets with SECRETS_KEY; SECRETS_KEY_PREVIOUS still opens what it
 * sealed. `context` (the owning row and field) is authenticated with the value, so a sealed
 * value copied to another row does not open there.
 */
export class SecretBox {
  constructor(private readonly keys: SecretsConfig) {}

  get canSeal(): boolean {
    return this.keys.current !== undefined;
  }

  /** Whether a value sealed under keyId should be sealed again with the current key. */
  isStale(keyId: string): boolean {
    return this.keys.current !== undefined && keyId !== this.keys.current.id;
  }

  seal(plain: string, context: string): SealedSecret {
    const key = this.keys.current;
    if (!key) throw new SecretsKeyMissingError();
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key.key, iv);
    cipher.setAAD(Buffer.from(context));
    const ciphertext = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    const parts = [iv, cipher.getAuthTag(), ciphertext].map((part) => part.toString('base64url'));
    return { secret: [VERSION, ...parts].join('.'), keyId: key.id };
  }

  open(sealed: SealedSecret, context: string): string {
    const key = this.keyFor(sealed.keyId);
    const [version, iv, tag, ciphertext] = sealed.secret.split('.');
    try {
      if (version !== VERSION || ciphertext === undefined) throw new Error('unknown format');
      // The full 16-byte tag: a shortened one would weaken what the tag proves.
      const decipher = createDecipheriv('aes-256-gcm', key.key, Buffer.from(iv, 'base64url'), {
        authTagLength: 16,
      });
      decipher.setAAD(Buffer.from(context));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      const plain = Buffer.concat([
        decipher.update(Buffer.from(ciphertext, 'base64url')),
        decipher.final(),
      ]);
      return plain.toString('utf8');
    } catch {
      throw new SecretUnreadableError(
        `the stored credential does not decrypt with the key of id ${key.id}: it is damaged, or that key is not the one that sealed it`,
      );
    }
  }

  private keyFor(keyId: string): SecretKey {
    const { current, previous } = this.keys;
    if (!current) {
      throw new SecretUnreadableError(
        `SECRETS_KEY is not set: cannot decrypt the stored credential (sealed under key id ${keyId})`,
      );
    }
    if (keyId === current.id) return current;
    if (keyId === previous?.id) return previous;
    throw new SecretUnreadableError(
      `the stored credential was sealed under key id ${keyId}, which is neither SECRETS_KEY (id ${current.id}) nor SECRETS_KEY_PREVIOUS; set SECRETS_KEY_PREVIOUS to the key it was sealed with`,
    );
  }
}
