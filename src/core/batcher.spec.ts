import { Batcher } from './batcher';

function recording(options: {
  windowMs: number;
  maxSize: number;
  maxInFlight: number;
  sameTick?: boolean;
}) {
  const batches: number[][] = [];
  const gates: (() => void)[] = [];
  let hold = false;
  const batcher = new Batcher<number, string>(async (items) => {
    batches.push(items);
    if (hold) await new Promise<void>((resolve) => gates.push(resolve));
    return items.map((item) => `done ${item}`);
  }, options);
  return {
    batcher,
    batches,
    hold: (on: boolean) => (hold = on),
    release: () => gates.splice(0).forEach((open) => open()),
  };
}

describe('Batcher', () => {
  it('runs the items added in one tick as one batch and answers each caller with its own outcome', async () => {
    const { batcher, batches } = recording({ windowMs: 0, maxSize: 100, maxInFlight: 1 });
    const outcomes = await Promise.all([1, 2, 3].map((n) => batcher.add(n)));
    expect(outcomes).toEqual(['done 1', 'done 2', 'done 3']);
    expect(batches).toEqual([[1, 2, 3]]);
  });

  it('sameTick: runs what the promise chains of one tick added, before the next I/O turn', async () => {
    const { batcher, batches } = recording({
      windowMs: 0,
      maxSize: 100,
      maxInFlight: 1,
      sameTick: true,
    });
    let immediateRan = false;
    setImmediate(() => (immediateRan = true));
    const chains = [1, 2, 3].map(async (n) => {
      // Items reach the batcher a few promise hops apart, as lifecycle writes do.
      for (let hop = 0; hop < n * 2; hop += 1) await Promise.resolve();
      return batcher.add(n);
    });
    await expect(Promise.all(chains)).resolves.toEqual(['done 1', 'done 2', 'done 3']);
    expect(batches).toEqual([[1, 2, 3]]);
    expect(immediateRan).toBe(false);
  });

  it('does not wait the window when nothing is being written', async () => {
    const { batcher, batches } = recording({ windowMs: 60_000, maxSize: 100, maxInFlight: 2 });
    await expect(batcher.add(1)).resolves.toBe('done 1');
    expect(batches).toEqual([[1]]);
  });

  it('while a batch is being written, waits the window for more items', async () => {
    const { batcher, batches, hold, release } = recording({
      windowMs: 30,
      maxSize: 100,
      maxInFlight: 2,
    });
    hold(true);
    const running = batcher.add(1);
    await new Promise<void>((resolve) => setImmediate(resolve));
    hold(false);
    const second = batcher.add(2);
    await new Promise<void>((resolve) => setImmediate(resolve));
    const third = batcher.add(3);
    await expect(Promise.all([second, third])).resolves.toEqual(['done 2', 'done 3']);
    expect(batches).toEqual([[1], [2, 3]]);
    release();
    await expect(running).resolves.toBe('done 1');
  });

  it('runs a full batch at once, and what queued meanwhile when that one ends', async () => {
    const { batcher, batches } = recording({ windowMs: 60_000, maxSize: 2, maxInFlight: 4 });
    const outcomes = Promise.all([1, 2, 3].map((n) => batcher.add(n)));
    expect(batches).toEqual([[1, 2]]);
    await expect(outcomes).resolves.toEqual(['done 1', 'done 2', 'done 3']);
    expect(batches).toEqual([[1, 2], [3]]);
  });

  it('queues items while maxInFlight batches run, then runs them together', async () => {
    const { batcher, batches, hold, release } = recording({
      windowMs: 0,
      maxSize: 100,
      maxInFlight: 1,
    });
    hold(true);
    const first = batcher.add(1);
    await new Promise<void>((resolve) => setImmediate(resolve));
    const later = [2, 3, 4].map((n) => batcher.add(n));
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(batches).toEqual([[1]]);
    hold(false);
    release();
    await expect(Promise.all([first, ...later])).resolves.toEqual([
      'done 1',
      'done 2',
      'done 3',
      'done 4',
    ]);
    expect(batches).toEqual([[1], [2, 3, 4]]);
  });

  it('runs a failed batch again item by item, so one bad item fails alone', async () => {
    const batches: number[][] = [];
    const batcher = new Batcher<number, number>(
      (items) => {
        batches.push(items);
        if (items.includes(2)) return Promise.reject(new Error('bad item 2'));
        return Promise.resolve(items.map((n) => n * 10));
      },
      { windowMs: 0, maxSize: 100, maxInFlight: 2 },
    );
    const outcomes = await Promise.allSettled([1, 2, 3].map((n) => batcher.add(n)));
    expect(outcomes).toEqual([
      { status: 'fulfilled', value: 10 },
      { status: 'rejected', reason: new Error('bad item 2') },
      { status: 'fulfilled', value: 30 },
    ]);
    expect(batches).toEqual([[1, 2, 3], [1], [2], [3]]);
  });

  it('fails every item of a batch that lost its connection, without running them again', async () => {
    let runs = 0;
    const batcher = new Batcher<number, number>(
      () => {
        runs += 1;
        return Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432'));
      },
      { windowMs: 0, maxSize: 100, maxInFlight: 1 },
    );
    const outcomes = await Promise.allSettled([1, 2].map((n) => batcher.add(n)));
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
    expect(runs).toBe(1);
  });
});
