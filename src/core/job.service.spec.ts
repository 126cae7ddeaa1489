import { ConflictException } from '@nestjs/common';
import { IsString } from 'class-validator';
import type { Job, JobEvent } from '../generated/prisma/client';
import { loadConfig } from '../config/app-config';
import { DependencyUnavailableError } from '../common/dependency.errors';
import type { JobLifecycleService } from './job-lifecycle.service';
import type { JobQueueService } from './job-queue.service';
import { JobRegistry } from './job-registry';
import type { JobRepository, NewJob } from './job.repository';
import { JobService } from './job.service';
import type { JobProcessor } from './job.types';
import type { SubmitRateLimiter } from './submit-rate-limiter';
import type { JobProjects } from './job-projects';
import type { TokenQuota } from './token-quota';

class Params {
  @IsString() text!: string;
}
class Processor implements JobProcessor<Params, null> {
  process(): Promise<null> {
    return Promise.resolve(null);
  }
}

function fakes() {
  const rows = new Map<string, Job>();
  const repository = {
    findByIdempotencyKey: jest.fn(
      async (userId: string, kind: string, key: string) =>
        [...rows.values()].find(
          (j) => j.userId === userId && j.kind === kind && j.idempotencyKey === key,
        ) ?? null,
    ),
    create: jest.fn(async (data: NewJob) => {
      const job = { ...data, status: 'queued' } as unknown as Job;
      rows.set(data.id, job);
      return { created: true as const, job, event: {} as JobEvent };
    }),
    delete: jest.fn(async (id: string) => {
      rows.delete(id);
    }),
  };
  const queues = { enqueue: jest.fn(async () => undefined) };
  const lifecycle = { announce: jest.fn(async () => undefined) };
  const limiter = { consume: jest.fn(async () => undefined) };
  const config = loadConfig({ NODE_ENV: 'test', JWT_SECRET: 'x'.repeat(16) });
  const registry = new JobRegistry(
    [{ name: 'demo', params: Params, processor: Processor }],
    config,
  );
  const service = new JobService(
    config,
    registry,
    repository as unknown as JobRepository,
    queues as unknown as JobQueueService,
    lifecycle as unknown as JobLifecycleService,
    limiter as unknown as SubmitRateLimiter,
    {} as JobProjects,
    {} as TokenQuota,
  );
  return { service, rows, repository, queues, lifecycle };
}

const body = { projectId: 'p', params: { text: 'hi' } };

describe('JobService.submit', () => {
  it('removes the row again when the queue refuses the job, and announces nothing', async () => {
    const { service, rows, queues, lifecycle } = fakes();
    queues.enqueue.mockRejectedValueOnce(new DependencyUnavailableError('redis'));
    await expect(service.submit('u', 'demo', body)).rejects.toBeInstanceOf(
      DependencyUnavailableError,
    );
    expect(rows.size).toBe(0);
    expect(lifecycle.announce).not.toHaveBeenCalled();
  });

  it('answers a repeated Idempotency-Key with the original job, a changed body with 409', async () => {
    const { service, rows } = fakes();
    const first = await service.submit('u', 'demo', body, 'key-1');
    const again = await service.submit('u', 'demo', { ...body }, 'key-1');
    expect(again).toEqual({ job: first.job, created: false });
    await expect(
      service.submit('u', 'demo', { ...body, params: { text: 'other' } }, 'key-1'),
    ).rejects.toBeInstanceOf(ConflictException);
    expect(rows.size).toBe(1);
  });
});
