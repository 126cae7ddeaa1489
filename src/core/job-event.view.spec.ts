import type { JobEvent } from '../generated/prisma/client';
import { toEventView } from './job-event.view';

const now = new Date('2026-01-01T00:00:00Z');

function row(extra: Partial<JobEvent>): JobEvent {
  return {
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
    parentId: null,
    createdAt: now,
    ...extra,
  };
}

describe('toEventView', () => {
  it('omits empty optional fields and stringifies the id', () => {
    expect(toEventView(row({}))).toEqual({
      eventId: '42',
      jobId: 'j',
      kind: 'echo',
      status: 'progress',
      progress: 10,
      at: now.toISOString(),
    });
  });

  it('carries the output of a progress event when there is some', () => {
    const view = toEventView(row({ id: 43n, output: 'line 1\n' }));
    expect(view).toMatchObject({ eventId: '43', status: 'progress', output: 'line 1\n' });
  });

  it("carries the parent's id of a child job's event", () => {
    const parentId = '00000000-0000-4000-8000-000000000009';
    const view = toEventView(row({ id: 44n, status: 'done', parentId }));
    expect(view).toMatchObject({ eventId: '44', parentId });
  });
});
