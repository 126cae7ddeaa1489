import { cpSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { git } from './code-index';

/** An installed package's directory (not resolved through its `exports`, which may hide it). */
function packageRoot(name: string): string {
  for (const dir of require.resolve.paths(name) ?? []) {
    if (existsSync(join(dir, name, 'package.json'))) return join(dir, name);
  }
  throw new Error(`package ${name} is not installed`);
}

/**
 * An installed package's files copied into a fresh git repository: a real codebase nobody here
 * wrote, at the version package-lock.json pins (returned, for the caller to assert).
 */
export function copyPackage(
  name: string,
  dirs: string[],
  keep: (path: string) => boolean,
): { root: string; version: string } {
  const pkg = packageRoot(name);
  const root = mkdtempSync(join(tmpdir(), 'conveyor-eval-corpus-'));
  for (const dir of dirs) {
    cpSync(join(pkg, dir), dirs.length === 1 ? root : join(root, dir), {
      recursive: true,
      filter: (source) => keep(source),
    });
  }
  git(root, 'init', '-q', '-b', 'main');
  const { version } = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as {
    version: string;
  };
  return { root, version };
}

const notDeclarationOrMap = (source: string) =>
  !source.endsWith('.d.ts') && !source.endsWith('.map');

/** The evaluation corpus: bullmq's published ES module build. */
export function copyCorpus(): { root: string; version: string } {
  return copyPackage('bullmq', ['dist/esm'], notDeclarationOrMap);
}

/** The held-out corpus: the MCP TypeScript SDK's compiled CommonJS. */
export function copyMcpSdk(): { root: string; version: string } {
  return copyPackage('@modelcontextprotocol/sdk', ['dist/cjs'], notDeclarationOrMap);
}

/** The harder corpus: undici's hand-written CommonJS source (`lib/`, `index.js`). */
export function copyUndici(): { root: string; version: string } {
  return copyPackage('undici', ['lib', 'index.js', 'index-fetch.js'], notDeclarationOrMap);
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

/** An answer given as a file and the lines (1-based, inclusive) that answer the question. */
export interface LinedAnswer {
  path: string;
  lines: [number, number];
}

export interface LinedQuery {
  q: string;
  kind: 'behaviour' | 'identifier+words' | 'where' | 'error';
  answers: LinedAnswer[];
}

export interface LinedHit {
  path: string;
  startLine: number;
  endLine: number;
  symbol?: string;
}

/** File level: the hit is in an answer's file; chunk level: its lines overlap an answer's. */
export function fileMatch(hit: LinedHit, answers: LinedAnswer[]): boolean {
  return answers.some((answer) => hit.path === answer.path);
}

export function chunkMatch(hit: LinedHit, answers: LinedAnswer[]): boolean {
  return answers.some(
    (answer) =>
      hit.path === answer.path &&
      hit.startLine <= answer.lines[1] &&
      hit.endLine >= answer.lines[0],
  );
}

export interface LevelScores {
  recallAt5: number;
  recallAt10: number;
  mrrAt10: number;
  misses: string[];
}

/** Recall@5, Recall@10 and MRR@10 of rankings, a hit being correct when `correct` says so. */
export function scoreBy<Q extends { q: string }, H>(
  rankings: { query: Q; hits: H[] }[],
  correct: (hit: H, query: Q) => boolean,
): LevelScores {
  let at5 = 0;
  let at10 = 0;
  let reciprocal = 0;
  const misses: string[] = [];
  for (const { query, hits } of rankings) {
    const rank = hits.slice(0, 10).findIndex((hit) => correct(hit, query));
    if (rank >= 0 && rank < 5) at5++;
    if (rank >= 0) {
      at10++;
      reciprocal += 1 / (rank + 1);
    } else misses.push(query.q);
  }
  const n = rankings.length || 1;
  return { recallAt5: at5 / n, recallAt10: at10 / n, mrrAt10: reciprocal / n, misses };
}

export function formatScores(label: string, scores: LevelScores): string {
  return (
    `${label}: R@5 ${scores.recallAt5.toFixed(3)}, R@10 ${scores.recallAt10.toFixed(3)}, ` +
    `MRR@10 ${scores.mrrAt10.toFixed(3)}`
  );
}
