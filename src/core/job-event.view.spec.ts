import { toEventView } from './job-event.view';

const now = new Date('2026-01-01T00:00:00Z');

describe('toEventView', () => {
  it('omits empty optional fields and stringifies the id', () => {
    const view = toEventView({
      id: 42n,
      jobId: 'j',
      userId: 'u',
      kind: 'echo',
      status: 'progress',
      progress: 10,
      message: null,
      result: null,
      error: null,
      output: null,
      createdAt: now,
    });
    expect(view).toEqual({
      eventId: '42',
      jobId: 'j',
      kind: 'echo',
      status: 'progress',
      progress: 10,
      at: now.toISOString(),
    });
  });

  it('carries the output of a progress event when there is some', () => {
    const view = toEventView({
      id: 43n,
      jobId: 'j',
      userId: 'u',
      kind: 'echo',
      status: 'progress',
      progress: 10,
      message: null,
      result: null,
      error: null,
      output: 'line 1\n',
      createdAt: now,
    });
    expect(view).toMatchObject({ eventId: '43', status: 'progress', output: 'line 1\n' });
  });
});
