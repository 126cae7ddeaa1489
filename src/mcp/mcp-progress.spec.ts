import { outputOf, ProgressTracker, type McpJobEvent } from './mcp-progress';

const event = (status: McpJobEvent['status'], progress: number, extra: Partial<McpJobEvent> = {}) =>
  ({ eventId: '1', jobId: 'j', kind: 'k', status, progress, at: '', ...extra }) as McpJobEvent;

describe('ProgressTracker', () => {
  it('passes growing percentages through with total 100 and the message', () => {
    const tracker = new ProgressTracker();
    expect(tracker.next(event('processing', 0, { message: 'started' }))).toEqual({
      progress: 0,
      total: 100,
      message: 'started',
    });
    expect(tracker.next(event('progress', 40))).toEqual({ progress: 40, total: 100 });
  });

  it('keeps every value strictly increasing and below the next whole percent when the job did not move', () => {
    const tracker = new ProgressTracker();
    const values = [10, 10, 10, 5, 11, 11].map((p) => tracker.next(event('progress', p))?.progress);
    expect(values).toEqual([10, 10.5, 10.75, 10.875, 11, 11.5]);
  });

  it('sends no progress once nothing is left below 100, nor for created or terminal events', () => {
    const tracker = new ProgressTracker();
    expect(tracker.next(event('created', 0))).toBeNull();
    expect(tracker.next(event('progress', 100))?.progress).toBe(100);
    expect(tracker.next(event('progress', 100, { output: 'more' }))).toBeNull();
    expect(tracker.next(event('done', 100))).toBeNull();
  });

  it('never repeats a value however many events share one percent', () => {
    const tracker = new ProgressTracker();
    const seen: number[] = [];
    for (let i = 0; i < 200; i += 1) {
      const update = tracker.next(event('progress', 7));
      if (update) seen.push(update.progress);
    }
    expect(seen.length).toBeGreaterThan(40);
    expect(seen.every((value, i) => i === 0 || value > seen[i - 1])).toBe(true);
    expect(Math.max(...seen)).toBeLessThan(8);
  });
});

describe('outputOf', () => {
  it('is the streamed text, or null when there is none', () => {
    expect(outputOf(event('progress', 1, { output: 'PASS a.test.js\n' }))).toBe('PASS a.test.js\n');
    expect(outputOf(event('progress', 1, { output: '' }))).toBeNull();
    expect(outputOf(event('progress', 1))).toBeNull();
  });
});
