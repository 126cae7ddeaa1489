import { randomBytes } from 'node:crypto';
import { secretKeyId, type SecretKey } from '../config/secrets.config';
import { SecretBox, SecretsKeyMissingError, SecretUnreadableError } from './secret-box';

function key(): SecretKey {
  const bytes = randomBytes(32);
  return { id: secretKeyId(bytes), key: bytes };
}

const TOKEN = `ghp_${randomBytes(16).toString('hex')}`;
const CONTEXT = 'project:1:githubToken';

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

/** One bit of the ciphertext flipped. */
function tampered(secret: string): string {
  const parts = secret.split('.');
  const bytes = Buffer.from(parts[3], 'base64url');
  bytes[0] ^= 1;
  parts[3] = bytes.toString('base64url');
  return parts.join('.');
}

describe('SecretBox', () => {
  const a = key();
  const b = key();

  it('seals with AES-256-GCM under the current key id and opens again', () => {
    const box = new SecretBox({ current: a, previous: undefined });
    const sealed = box.seal(TOKEN, CONTEXT);
    expect(sealed.keyId).toBe(a.id);
    expect(sealed.secret).toMatch(/^v1\.[\w-]{16}\.[\w-]{22}\.[\w-]+$/);
    expect(sealed.secret).not.toContain(TOKEN);
    expect(Buffer.from(sealed.secret.split('.')[3], 'base64url').includes(TOKEN)).toBe(false);
    expect(box.open(sealed, CONTEXT)).toBe(TOKEN);
    // A fresh IV each time.
    expect(box.seal(TOKEN, CONTEXT).secret).not.toBe(sealed.secret);
  });

  it('opens values of SECRETS_KEY_PREVIOUS and says they are stale', () => {
    const sealed = new SecretBox({ current: a, previous: undefined }).seal(TOKEN, CONTEXT);
    const rotated = new SecretBox({ current: b, previous: a });
    expect(rotated.open(sealed, CONTEXT)).toBe(TOKEN);
    expect(rotated.isStale(sealed.keyId)).toBe(true);
    expect(rotated.isStale(b.id)).toBe(false);
  });

  it('refuses to seal without SECRETS_KEY', () => {
    const error = thrown(() =>
      new SecretBox({ current: undefined, previous: undefined }).seal(TOKEN, CONTEXT),
    );
    expect(error).toBeInstanceOf(SecretsKeyMissingError);
  });

  it('names what is wrong, by key id only, when a value does not open', () => {
    const sealed = new SecretBox({ current: a, previous: undefined }).seal(TOKEN, CONTEXT);
    const cases: [SecretBox, typeof sealed, string, RegExp][] = [
      [
        new SecretBox({ current: undefined, previous: undefined }),
        sealed,
        CONTEXT,
        /SECRETS_KEY is not set/,
      ],
      [
        new SecretBox({ current: b, previous: undefined }),
        sealed,
        CONTEXT,
        new RegExp(`sealed under key id ${a.id}, which is neither SECRETS_KEY \\(id ${b.id}\\)`),
      ],
      // A key claiming a's id but not a (a wrong key of the same id cannot happen; a tampered row can).
      [
        new SecretBox({ current: { id: a.id, key: b.key }, previous: undefined }),
        sealed,
        CONTEXT,
        /does not decrypt with the key of id/,
      ],
      [
        new SecretBox({ current: a, previous: undefined }),
        sealed,
        'project:2:githubToken',
        /does not decrypt/,
      ],
      [
        new SecretBox({ current: a, previous: undefined }),
        { ...sealed, secret: tampered(sealed.secret) },
        CONTEXT,
        /does not decrypt/,
      ],
      [
        new SecretBox({ current: a, previous: undefined }),
        { ...sealed, secret: 'garbage' },
        CONTEXT,
        /does not decrypt/,
      ],
    ];
    for (const [box, value, context, message] of cases) {
      const error = thrown(() => box.open(value, context));
      expect(error).toBeInstanceOf(SecretUnreadableError);
      expect(error.message).toMatch(message);
      expect(error.message).not.toContain(TOKEN);
      expect(error.message).not.toContain(a.key.toString('hex'));
      expect(error.message).not.toContain(b.key.toString('hex'));
    }
  });
});
