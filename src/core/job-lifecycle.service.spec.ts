import type { Job } from '../generated/prisma/client';
import { loadConfig } from '../config/app-config';
import type { JobEventBus } from './job-event-bus';
import { JobLifecycleService } from './job-lifecycle.service';
import type { JobMetricsService } from './job-metrics.service';
import type { JobChange } from './job-transition';
import type { JobRepository, JobWithEvent } from './job.repository';

const job = { id: 'j', status: 'processing' } as Job;

function setup(transition: (change: JobChange) => Promise<JobWithEvent | null>) {
  const config = loadConfig({
    NODE_ENV: 'test',
    JWT_SECRET: 'x'.repeat(16),
    PROGRESS_INTERVAL_MS: '60000',
  });
  const writes: JobChange[] = [];
  const repository = {
    transition: (_id: string, change: JobChange) => {
      writes.push(change);
      return transition(change);
    },
  } as unknown as JobRepository;
  const bus = { publish: () => Promise.resolve() } as unknown as JobEventBus;
  const metrics = { record: () => Promise.resolve() } as unknown as JobMetricsService;
  return { lifecycle: new JobLifecycleService(config, repository, bus, metrics), writes };
}

const written = (): Promise<JobWithEvent> =>
  Promise.resolve({ job, event: {} as JobWithEvent['event'] });

describe('JobLifecycleService progress coalescing', () => {
  afterEach(() => jest.useRealTimers());

  it('answers a report made while the first write is in flight with that write, not null', async () => {
    let finish!: (value: JobWithEvent) => void;
    const { lifecycle, writes } = setup(() =>
      writes.length > 1 ? written() : new Promise<JobWithEvent>((resolve) => (finish = resolve)),
    );
    const first = lifecycle.apply('j', { type: 'progress', progress: 10 });
    const second = lifecycle.apply('j', { type: 'progress', progress: 20 });
    for (let turn = 0; writes.length === 0 && turn < 100; turn += 1) await Promise.resolve();
    finish({ job, event: {} as JobWithEvent['event'] });
    await expect(first).resolves.toBe(job);
    await expect(second).resolves.toBe(job);
    expect(writes).toHaveLength(1);
    await lifecycle.onApplicationShutdown();
  });

  it('does not answer later reports as "job gone" after a failed first write', async () => {
    let fail = true;
    const { lifecycle } = setup(() =>
      fail ? Promise.reject(new Error('database blip')) : written(),
    );
    await expect(lifecycle.apply('j', { type: 'progress', progress: 10 })).rejects.toThrow(
      'database blip',
    );
    fail = false;
    await expect(lifecycle.apply('j', { type: 'progress', progress: 20 })).resolves.toBe(job);
    await lifecycle.onApplicationShutdown();
  });

  it('writes the held-back report before the terminal change, never instead of it', async () => {
    const { lifecycle, writes } = setup(() => written());
    await lifecycle.apply('j', { type: 'progress', progress: 10 });
    await lifecycle.apply('j', { type: 'progress', progress: 20 });
    await lifecycle.apply('j', { type: 'progress', progress: 30 });
    await lifecycle.apply('j', { type: 'done', result: null });
    expect(writes.map((w) => (w.type === 'progress' ? w.progress : w.type))).toEqual([
      10,
      30,
      'done',
    ]);
  });
});
