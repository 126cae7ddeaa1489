import type { Job } from '../generated/prisma/client';
import { ancestorIds, cancelSteps, MAX_CHILD_DEPTH } from './child-jobs';
import type { JobChange } from './job-transition';

function row(id: string, parentId: string | null, kind = 'echo', status = 'processing'): Job {
  return { id, parentId, kind, status } as Job;
}

function store(jobs: Job[]) {
  const rows = new Map(jobs.map((job) => [job.id, job]));
  const removed: string[] = [];
  return {
    rows,
    removed,
    jobs: {
      findById: (id: string) => Promise.resolve(rows.get(id) ?? null),
      children: (parentId: string, unfinished = false) =>
        Promise.resolve(
          [...rows.values()].filter(
            (job) =>
              job.parentId === parentId &&
              (!unfinished || job.status === 'queued' || job.status === 'processing'),
          ),
        ),
    },
    lifecycle: {
      apply: (id: string, change: JobChange) => {
        const job = rows.get(id);
        if (!job || change.type !== 'cancelled' || !['queued', 'processing'].includes(job.status)) {
          return Promise.resolve(null);
        }
        job.status = 'cancelled';
        return Promise.resolve(job);
      },
    },
    queues: {
      cancel: (_kind: string, id: string) => {
        removed.push(id);
        return Promise.resolve('removed' as const);
      },
    },
  };
}

describe('ancestorIds', () => {
  it('walks up from the parent, nearest first; a submitted job has none', async () => {
    const { jobs } = store([row('a', null), row('b', 'a'), row('c', 'b')]);
    await expect(ancestorIds(jobs, row('d', 'c'))).resolves.toEqual(['c', 'b', 'a']);
    await expect(ancestorIds(jobs, row('a', null))).resolves.toEqual([]);
  });

  it('stops one past the nesting bound (a cycle cannot loop)', async () => {
    const { jobs } = store([row('x', 'y'), row('y', 'x')]);
    await expect(ancestorIds(jobs, row('z', 'x'))).resolves.toHaveLength(MAX_CHILD_DEPTH + 1);
  });
});

describe('cancelSteps', () => {
  it("cancels a job's unfinished steps and theirs, and leaves finished ones alone", async () => {
    const fake = store([
      row('p', null),
      row('s1', 'p', 'echo', 'done'),
      row('s2', 'p', 'echo', 'processing'),
      row('s3', 'p', 'other', 'queued'),
      row('g1', 's2', 'echo', 'queued'),
    ]);
    await expect(cancelSteps(fake, 'p')).resolves.toBe(3);
    expect(Object.fromEntries([...fake.rows].map(([id, job]) => [id, job.status]))).toEqual({
      p: 'processing',
      s1: 'done',
      s2: 'cancelled',
      s3: 'cancelled',
      g1: 'cancelled',
    });
    expect(fake.removed.sort()).toEqual(['g1', 's2', 's3']);
  });
});
