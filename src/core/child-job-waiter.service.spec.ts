import { EventEmitter } from 'node:events';
import type { Job } from '../generated/prisma/client';
import type { RedisService } from '../redis/redis.service';
import { ChildJobWaiterService } from './child-job-waiter.service';
import { JobEventBus } from './job-event-bus';
import type { JobRepository } from './job.repository';

describe('ChildJobWaiterService', () => {
  afterEach(() => jest.useRealTimers());

  it("reads the row again when the step's end is announced while a read is under way", async () => {
    jest.useFakeTimers();
    const subscriber = Object.assign(new EventEmitter(), { ssubscribe: () => Promise.resolve(1) });
    const reads: ((job: Job) => void)[] = [];
    const jobs = {
      findById: jest.fn(() => new Promise<Job>((resolve) => reads.push(resolve))),
    };
    const redis = {
      shardedSubscriber: () => subscriber,
      key: (...parts: string[]) => ['waiter-spec', ...parts].join(':'),
    } as unknown as RedisService;
    const bus = new JobEventBus(redis);
    const waiter = new ChildJobWaiterService(redis, bus, jobs as unknown as JobRepository);
    const ended = waiter.ended('s', new AbortController().signal);
    await jest.advanceTimersByTimeAsync(0);
    expect(reads).toHaveLength(1);
    // The step ends while its row is being read: the read still sees it running.
    subscriber.emit('smessage', bus.channel(0), JSON.stringify({ jobId: 's', status: 'done' }));
    reads[0]({ id: 's', status: 'processing' } as Job);
    await jest.advanceTimersByTimeAsync(0);
    expect(reads).toHaveLength(2);
    reads[1]({ id: 's', status: 'done' } as Job);
    await expect(ended).resolves.toMatchObject({ status: 'done' });
  });
});
