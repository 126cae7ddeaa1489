import { createHash, randomBytes } from 'node:crypto';
import { ConfigError, loadConfig } from './app-config';

const base = { NODE_ENV: 'production', JWT_SECRET: 'a-long-enough-secret-value' };
const KEY = randomBytes(32);
const OTHER = randomBytes(32);
const RULE = 'must be a 32-byte key given as 64 hex digits or as base64';

function errorOf(env: Record<string, string>): string {
  try {
    loadConfig({ ...base, ...env }, '/srv');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

function idOf(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

describe('secrets configuration', () => {
  it('has no key by default', () => {
    expect(loadConfig(base, '/srv').secrets).toEqual({ current: undefined, previous: undefined });
  });

  it.each([
    ['64 hex digits', KEY.toString('hex')],
    ['upper-case hex', KEY.toString('hex').toUpperCase()],
    ['base64', KEY.toString('base64')],
    ['base64url without padding', KEY.toString('base64url')],
  ])('reads a key given as %s, with its id', (_, value) => {
    const { secrets } = loadConfig({ ...base, SECRETS_KEY: value }, '/srv');
    expect(secrets.current).toEqual({ id: idOf(KEY), key: KEY });
    expect(secrets.current?.id).toMatch(/^[0-9a-f]{8}$/);
  });

  it('reads the previous key beside the current one', () => {
    const { secrets } = loadConfig(
      { ...base, SECRETS_KEY: KEY.toString('hex'), SECRETS_KEY_PREVIOUS: OTHER.toString('base64') },
      '/srv',
    );
    expect(secrets).toEqual({
      current: { id: idOf(KEY), key: KEY },
      previous: { id: idOf(OTHER), key: OTHER },
    });
  });

  it.each([
    ['too short hex', KEY.toString('hex').slice(0, 62)],
    ['too long hex', `${KEY.toString('hex')}00`],
    ['hex with a non-hex digit', `${KEY.toString('hex').slice(0, 63)}g`],
    ['16 bytes of base64', randomBytes(16).toString('base64')],
    ['48 bytes of base64', randomBytes(48).toString('base64')],
    ['a passphrase', 'correct horse battery staple'],
  ])('refuses %s in one wording, never echoing the value', (_, value) => {
    for (const name of ['SECRETS_KEY', 'SECRETS_KEY_PREVIOUS']) {
      const message = errorOf({ SECRETS_KEY: OTHER.toString('hex'), [name]: value });
      expect(message).toBe(`Invalid configuration: ${name} ${RULE}`);
      expect(message).not.toContain(value);
    }
  });

  it('refuses SECRETS_KEY_PREVIOUS without SECRETS_KEY', () => {
    expect(errorOf({ SECRETS_KEY_PREVIOUS: KEY.toString('hex') })).toBe(
      'Invalid configuration: SECRETS_KEY_PREVIOUS needs SECRETS_KEY (the key that replaces it)',
    );
  });
});
