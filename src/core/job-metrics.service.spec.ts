import type { Job } from '../generated/prisma/client';
import type { RedisService } from '../redis/redis.service';
import { JobMetricsService } from './job-metrics.service';
import type { StoredEvent } from './job.repository';

type Call = [command: string, key: string, field: string, by: number];

/** A RedisService whose commands are recorded; `fail` makes them reject like a lost connection. */
function fakeRedis(fail = false) {
  const calls: Call[] = [];
  const command = (name: string) => (key: string, field: string, by: number) => {
    calls.push([name, key, field, by]);
    return fail ? Promise.reject(new Error('Connection is closed.')) : Promise.resolve(1);
  };
  const redis = {
    key: (...parts: string[]) => ['test', ...parts].join(':'),
    client: { hincrby: command('hincrby'), hincrbyfloat: command('hincrbyfloat') },
  } as unknown as RedisService;
  return { redis, calls };
}

function event(id: number, status: string): StoredEvent {
  return {
    id: BigInt(id),
    jobId: `job-${id}`,
    userId: 'u1',
    kind: 'echo',
    status,
    progress: 0,
    message: null,
    result: null,
    error: null,
    output: null,
    parentId: null,
    createdAt: new Date(10_000),
    previousEventId: null,
  };
}

const job = { kind: 'echo', createdAt: new Date(8_000), finishedAt: new Date(9_500) } as Job;

describe('JobMetricsService.record', () => {
  it('sums the counts of one tick into one command per field, durations by HINCRBYFLOAT', async () => {
    const { redis, calls } = fakeRedis();
    const metrics = new JobMetricsService(redis);
    await Promise.all([
      metrics.record(event(1, 'created')),
      metrics.record(event(2, 'created')),
      metrics.record(event(3, 'done'), job),
      metrics.record(event(4, 'done'), job),
    ]);
    expect(calls).toEqual(
      expect.arrayContaining([
        ['hincrby', 'test:{metrics}:events', 'echo\tcreated', 2],
        ['hincrby', 'test:{metrics}:events', 'echo\tdone', 2],
        ['hincrby', 'test:{metrics}:jobs', 'echo\tdone', 2],
        ['hincrby', 'test:{metrics}:duration', 'echo\t2.5', 2],
        ['hincrby', 'test:{metrics}:duration', 'echo\tcount', 2],
        ['hincrbyfloat', 'test:{metrics}:duration', 'echo\tsum', 3],
      ]),
    );
    expect(calls).toHaveLength(6);
  });

  it('sends nothing before the tick settles, and the counts of a later tick on their own', async () => {
    const { redis, calls } = fakeRedis();
    const metrics = new JobMetricsService(redis);
    const first = metrics.record(event(1, 'created'));
    expect(calls).toEqual([]);
    await first;
    await metrics.record(event(2, 'processing'));
    expect(calls).toEqual([
      ['hincrby', 'test:{metrics}:events', 'echo\tcreated', 1],
      ['hincrby', 'test:{metrics}:events', 'echo\tprocessing', 1],
    ]);
  });

  it('resolves when Redis refuses the counts: a lost count never fails the job', async () => {
    const { redis, calls } = fakeRedis(true);
    const metrics = new JobMetricsService(redis);
    await expect(metrics.record(event(1, 'done'), job)).resolves.toBeUndefined();
    expect(calls).toHaveLength(5);
  });
});
