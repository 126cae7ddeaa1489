import { loadConfig } from '../config/app-config';
import { TokenQuota, TokenQuotaExceededError } from './token-quota';
import type { TokenUsageRepository } from './token-usage.repository';

function quota(env: Record<string, string>, used: number) {
  const config = loadConfig({ NODE_ENV: 'test', JWT_SECRET: 'x'.repeat(16), ...env });
  const usage = { dayTotal: jest.fn(async (_userId: string, _day: string) => used) };
  return { quota: new TokenQuota(config, usage as unknown as TokenUsageRepository), usage };
}

describe('TokenQuota', () => {
  const now = new Date('2026-12-07T23:59:30.250Z');

  it('reads nothing without USER_TOKEN_QUOTA_PER_DAY', async () => {
    const { quota: check, usage } = quota({}, 10 ** 9);
    await expect(check.check('u', now)).resolves.toBeUndefined();
    expect(usage.dayTotal).not.toHaveBeenCalled();
  });

  it("admits below the quota, reading the user's UTC day", async () => {
    const { quota: check, usage } = quota({ USER_TOKEN_QUOTA_PER_DAY: '100' }, 99);
    await expect(check.check('u', now)).resolves.toBeUndefined();
    expect(usage.dayTotal).toHaveBeenCalledWith('u', '2026-12-07');
  });

  it('refuses at the quota with 429 and the seconds to the next UTC midnight', async () => {
    const { quota: check } = quota({ USER_TOKEN_QUOTA_PER_DAY: '100' }, 100);
    const refused = await check.check('u', now).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(TokenQuotaExceededError);
    expect(refused).toMatchObject({ quota: 100, retryAfterSec: 30 });
    expect((refused as TokenQuotaExceededError).getStatus()).toBe(429);
  });
});
