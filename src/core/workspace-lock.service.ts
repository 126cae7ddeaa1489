import { Injectable } from '@nestjs/common';
import { RedisService } from '../redis/redis.service';
import { guardDependency } from './job.errors';

const LEASE_MS = 60_000;
const RENEW_MS = 20_000;
const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0`;

export interface WorkspaceLease {
  release(): Promise<void>;
}

/**
 * One job at a time per project workspace, across every worker process. The lease is renewed
 * while the job runs and lapses by itself if the worker dies.
 */
@Injectable()
export class WorkspaceLockService {
  constructor(private readonly redis: RedisService) {}

  acquire(projectId: string, holder: string): Promise<WorkspaceLease | null> {
    const key = this.redis.key('workspace-lock', projectId);
    return guardDependency('redis', async () => {
      const taken = await this.redis.client.set(key, holder, 'PX', LEASE_MS, 'NX');
      if (taken !== 'OK') return null;
      const timer = setInterval(() => {
        this.redis.client.eval(RENEW, 1, key, holder, LEASE_MS).catch(() => undefined);
      }, RENEW_MS);
      timer.unref();
      return {
        release: async () => {
          clearInterval(timer);
          await this.redis.client.eval(RELEASE, 1, key, holder).catch(() => undefined);
        },
      };
    });
  }
}
