import type { Job } from '../generated/prisma/client';
import { loadConfig } from '../config/app-config';
import type { JobEventBus } from './job-event-bus';
import type { JobMetricsService } from './job-metrics.service';
import { JobLifecycleService } from './job-lifecycle.service';
import { OUTPUT_EVENT_MAX_BYTES } from './job-output';
import type { JobChange } from './job-transition';
import type { JobRepository, JobWithEvent } from './job.repository';

const job = { id: 'j', status: 'processing' } as Job;

function setup(
  env: Record<string, string>,
  transition: (change: JobChange) => Promise<JobWithEvent | null> = () => written(),
) {
  const config = loadConfig({ NODE_ENV: 'test', JWT_SECRET: 'x'.repeat(16), ...env });
  const writes: JobChange[] = [];
  const repository = {
    transition: (_id: string, change: JobChange) => {
      writes.push(change);
      return transition(change);
    },
  } as unknown as JobRepository;
  const bus = { publish: () => Promise.resolve() } as unknown as JobEventBus;
  const metrics = { record: () => Promise.resolve() } as unknown as JobMetricsService;
  const lifecycle = new JobLifecycleService(config, repository, bus, metrics);
  return { lifecycle, writes, output: lifecycle.outputStream('j') };
}

const written = (): Promise<JobWithEvent> =>
  Promise.resolve({ job, event: {} as JobWithEvent['event'] });

/** Each write as [type or progress value, output]. */
function summary(writes: JobChange[]): [string | number | undefined, string | undefined][] {
  return writes.map((w) => (w.type === 'progress' ? [w.progress, w.output] : [w.type, undefined]));
}

function streamed(writes: JobChange[]): string {
  return writes.map((w) => (w.type === 'progress' ? (w.output ?? '') : '')).join('');
}

describe('JobLifecycleService streamed output, coalesced', () => {
  const env = { PROGRESS_INTERVAL_MS: '60000' };

  it('writes the first output at once, concatenates the rest of the window, flushes it before done', async () => {
    const { lifecycle, writes, output } = setup(env);
    output('a');
    await lifecycle.apply('j', { type: 'progress', progress: 10 });
    for (const text of ['b', 'ü', '😀', 'c']) output(text);
    await lifecycle.apply('j', { type: 'done', result: null });
    expect(summary(writes)).toEqual([
      [undefined, 'a'],
      [10, 'bü😀c'],
      ['done', undefined],
    ]);
  });

  it('output never replaces a held-back progress report, and is not replaced by one', async () => {
    const { lifecycle, writes, output } = setup(env);
    await lifecycle.apply('j', { type: 'progress', progress: 10 });
    output('x');
    await lifecycle.apply('j', { type: 'progress', progress: 30, message: 'thirty' });
    output('y');
    await lifecycle.apply('j', { type: 'error', error: 'boom' });
    expect(writes).toEqual([
      { type: 'progress', progress: 10 },
      { type: 'progress', progress: 30, message: 'thirty', output: 'xy' },
      { type: 'error', error: 'boom' },
    ]);
  });

  it('splits more than 64 KiB over consecutive events, between characters', async () => {
    const { lifecycle, writes, output } = setup(env);
    const big = '€😀'.repeat(30_000);
    output(big);
    await lifecycle.apply('j', { type: 'done', result: null });
    const pieces = writes.slice(0, -1).map((w) => (w.type === 'progress' ? w.output! : ''));
    expect(pieces.length).toBe(Math.ceil(Buffer.byteLength(big) / OUTPUT_EVENT_MAX_BYTES));
    pieces.forEach((p) => expect(Buffer.byteLength(p)).toBeLessThanOrEqual(OUTPUT_EVENT_MAX_BYTES));
    expect(pieces.join('')).toBe(big);
    expect(writes.at(-1)?.type).toBe('done');
  });
});

describe('JobLifecycleService streamed output, not coalesced', () => {
  const env = { PROGRESS_INTERVAL_MS: '0' };

  it('takes all output made while a write is queued into that one write', async () => {
    const { lifecycle, writes, output } = setup(env);
    for (let i = 0; i < 1000; i += 1) output(`${i},`);
    await lifecycle.apply('j', { type: 'done', result: null });
    expect(writes.map((w) => w.type)).toEqual(['progress', 'done']);
    expect(streamed(writes)).toBe(Array.from({ length: 1000 }, (_, i) => `${i},`).join(''));
  });

  it('puts the output of a failed write back, so the next write carries it', async () => {
    let fail = true;
    const { lifecycle, writes, output } = setup(env, () =>
      fail ? Promise.reject(new Error('database blip')) : written(),
    );
    output('lost? ');
    for (let turn = 0; writes.length === 0 && turn < 100; turn += 1) await Promise.resolve();
    fail = false;
    output('no.');
    await lifecycle.apply('j', { type: 'done', result: null });
    expect(writes).toEqual([
      { type: 'progress', output: 'lost? ' },
      { type: 'progress', output: 'lost? no.' },
      { type: 'done', result: null },
    ]);
  });

  it('drops output the job can no longer take, and still writes the terminal change', async () => {
    const { lifecycle, writes, output } = setup(env, (change) =>
      change.type === 'progress' ? Promise.resolve(null) : written(),
    );
    output('late');
    await lifecycle.apply('j', { type: 'cancelled' });
    expect(writes).toEqual([{ type: 'progress', output: 'late' }, { type: 'cancelled' }]);
  });
});

describe('JobLifecycleService output cap', () => {
  it('streams the first JOB_LOG_MAX_BYTES of an attempt exactly, then nothing', async () => {
    const { lifecycle, writes, output } = setup({
      PROGRESS_INTERVAL_MS: '0',
      JOB_LOG_MAX_BYTES: '1024',
    });
    const text = 'é'.repeat(700);
    output(text);
    output('more');
    await lifecycle.apply('j', { type: 'done', result: null });
    expect(streamed(writes)).toBe('é'.repeat(512));
  });
});
