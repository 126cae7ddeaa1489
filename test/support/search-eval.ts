import { cpSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { git } from './code-index';

/**
 * The evaluation corpus: bullmq's published ES module build (its version pinned by
 * package-lock.json), a real codebase nobody here wrote, copied into a fresh git repository.
 */
export function copyCorpus(): { root: string; version: string } {
  const pkg = dirname(require.resolve('bullmq/package.json'));
  const root = mkdtempSync(join(tmpdir(), 'conveyor-eval-corpus-'));
  cpSync(join(pkg, 'dist/esm'), root, {
    recursive: true,
    filter: (source) => !source.endsWith('.d.ts') && !source.endsWith('.map'),
  });
  git(root, 'init', '-q', '-b', 'main');
  const { version } = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as {
    version: string;
  };
  return { root, version };
}

export interface Answer {
  path: string;
  /** The hit's symbol must end with this (`moveToFailed` matches `Job.moveToFailed`). */
  symbol?: string;
}

export interface EvalQuery {
  q: string;
  kind: 'identifier' | 'partial' | 'path' | 'words';
  /** Any one of these is a correct answer. */
  answers: Answer[];
}

/** Written by reading the corpus; each answer is where a developer would want to land. */
export const EVAL_QUERIES: EvalQuery[] = [
  {
    q: 'moveToFailed',
    kind: 'identifier',
    answers: [{ path: 'classes/job.js', symbol: 'moveToFailed' }],
  },
  {
    q: 'Backoffs.calculate',
    kind: 'identifier',
    answers: [{ path: 'classes/backoffs.js', symbol: 'Backoffs' }],
  },
  {
    q: 'getNextMillis',
    kind: 'identifier',
    answers: [{ path: 'classes/job-scheduler.js', symbol: 'getNextMillis' }],
  },
  {
    q: 'removeAllQueueData',
    kind: 'identifier',
    answers: [{ path: 'utils/index.js', symbol: 'removeAllQueueData' }],
  },
  {
    q: 'isRedisVersionLowerThan',
    kind: 'identifier',
    answers: [{ path: 'utils/index.js', symbol: 'isRedisVersionLowerThan' }],
  },
  {
    q: 'waitUntilFinished',
    kind: 'identifier',
    answers: [{ path: 'classes/job.js', symbol: 'waitUntilFinished' }],
  },
  {
    q: 'startStalledCheckTimer',
    kind: 'identifier',
    answers: [{ path: 'classes/worker.js', symbol: 'startStalledCheckTimer' }],
  },
  {
    q: 'createIORedisClient',
    kind: 'identifier',
    answers: [{ path: 'classes/ioredis-client.js', symbol: 'createIORedisClient' }],
  },
  {
    q: 'quoteSchemaName',
    kind: 'identifier',
    answers: [{ path: 'postgres/migrator.js', symbol: 'quoteSchemaName' }],
  },
  {
    q: 'loadCommandSql',
    kind: 'identifier',
    answers: [{ path: 'postgres/sql-loader.js', symbol: 'loadCommandSql' }],
  },
  {
    q: 'moveStalled',
    kind: 'partial',
    answers: [{ path: 'classes/worker.js', symbol: 'moveStalledJobsToWait' }],
  },
  {
    q: 'changePrior',
    kind: 'partial',
    answers: [{ path: 'classes/job.js', symbol: 'changePriority' }],
  },
  {
    q: 'lengthInUtf8',
    kind: 'partial',
    answers: [{ path: 'utils/index.js', symbol: 'lengthInUtf8Bytes' }],
  },
  {
    q: 'assertSchemaCompat',
    kind: 'partial',
    answers: [{ path: 'postgres/migrator.js', symbol: 'assertSchemaCompatibility' }],
  },
  {
    q: 'retryIfFail',
    kind: 'partial',
    answers: [{ path: 'classes/worker.js', symbol: 'retryIfFailed' }],
  },
  { q: 'classes/backoffs.js', kind: 'path', answers: [{ path: 'classes/backoffs.js' }] },
  { q: 'queue-events.js', kind: 'path', answers: [{ path: 'classes/queue-events.js' }] },
  { q: 'postgres/migrator.js', kind: 'path', answers: [{ path: 'postgres/migrator.js' }] },
  { q: 'sql-loader.js', kind: 'path', answers: [{ path: 'postgres/sql-loader.js' }] },
  {
    q: 'exponential backoff delay with jitter',
    kind: 'words',
    answers: [{ path: 'classes/backoffs.js' }],
  },
  {
    q: 'check that the redis version is not lower than the minimum',
    kind: 'words',
    answers: [{ path: 'utils/index.js', symbol: 'isRedisVersionLowerThan' }],
  },
  {
    q: 'move stalled jobs back to wait',
    kind: 'words',
    answers: [{ path: 'classes/worker.js', symbol: 'moveStalledJobsToWait' }],
  },
  {
    q: 'rate limit the worker for some time',
    kind: 'words',
    answers: [{ path: 'classes/worker.js', symbol: 'rateLimit' }],
  },
  {
    q: 'extend the lock of a job',
    kind: 'words',
    answers: [
      { path: 'classes/job.js', symbol: 'extendLock' },
      { path: 'classes/lock-manager.js' },
    ],
  },
  {
    q: 'pause the worker and wait for active jobs',
    kind: 'words',
    answers: [{ path: 'classes/worker.js', symbol: 'pause' }],
  },
  {
    q: 'run database migrations for the postgres schema',
    kind: 'words',
    answers: [{ path: 'postgres/migrator.js', symbol: 'runMigrations' }],
  },
  {
    q: 'convert an error to JSON',
    kind: 'words',
    answers: [{ path: 'utils/index.js', symbol: 'errorToJSON' }],
  },
  {
    q: 'flatten an object into an array',
    kind: 'words',
    answers: [{ path: 'utils/index.js', symbol: 'objectToFlatArray' }],
  },
  {
    q: 'update the progress of a job',
    kind: 'words',
    answers: [{ path: 'classes/job.js', symbol: 'updateProgress' }],
  },
  {
    q: 'next run time of a repeatable job from its cron pattern',
    kind: 'words',
    answers: [
      { path: 'classes/job-scheduler.js', symbol: 'defaultRepeatStrategy' },
      { path: 'classes/job-scheduler.js', symbol: 'getNextMillis' },
    ],
  },
];

export interface Hit {
  path: string;
  symbol?: string;
}

export function isAnswer(hit: Hit, answers: Answer[]): boolean {
  return answers.some(
    (answer) =>
      hit.path === answer.path &&
      (answer.symbol === undefined || (hit.symbol ?? '').split('.').includes(answer.symbol)),
  );
}

export interface Scores {
  recallAt5: number;
  recallAt10: number;
  mrr: number;
  misses: string[];
}

/** Recall@5, Recall@10 (a correct answer in the top k) and MRR over the queries' rankings. */
export function score(rankings: { query: EvalQuery; hits: Hit[] }[]): Scores {
  let at5 = 0;
  let at10 = 0;
  let reciprocal = 0;
  const misses: string[] = [];
  for (const { query, hits } of rankings) {
    const rank = hits.findIndex((hit) => isAnswer(hit, query.answers));
    if (rank >= 0 && rank < 5) at5++;
    if (rank >= 0 && rank < 10) at10++;
    else misses.push(query.q);
    if (rank >= 0) reciprocal += 1 / (rank + 1);
  }
  const n = rankings.length;
  return { recallAt5: at5 / n, recallAt10: at10 / n, mrr: reciprocal / n, misses };
}
