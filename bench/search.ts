/**
 * npm run bench:search [-- --pglite] [-- --chunks 20000]
 *
 * Measures the code index on a fresh database (PostgreSQL from BENCH_DATABASE_URL, default the
 * local server, or an embedded PGlite with --pglite):
 *   1. index time of bullmq's dist/esm (the evaluation corpus), and re-index time after one edit;
 *   2. query latency p50/p95 over a project of at least --chunks chunks (JavaScript of the
 *      installed packages), lexical alone and with vectors (384 dimensions from a loopback
 *      OpenAI-compatible /v1/embeddings), for the queries of both evaluation sets (bullmq's
 *      identifiers and descriptions, undici's plain-language questions and error messages).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { appendFileSync, cpSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { loadConfig } from '../src/config/app-config';
import { openDatabase, type OpenedDatabase } from '../src/database/prisma-client.factory';
import { CodeIndexerService } from '../src/kinds/indexing/code-indexer.service';
import { EmbeddingsService } from '../src/llm/embeddings.service';
import { ProjectRepository } from '../src/projects/project.repository';
import { CodeIndexRepository } from '../src/search/code-index.repository';
import { CodeSearchService } from '../src/search/code-search.service';
import { git, startEmbeddingsServer } from '../test/support/code-index';
import { copyCorpus, EVAL_QUERIES } from '../test/support/search-eval';
import { UNDICI_QUERIES } from '../test/support/search-eval-undici';

const args = process.argv.slice(2);
const usePglite = args.includes('--pglite');
const chunkTarget = Number(args[args.indexOf('--chunks') + 1]) || 20_000;
const keep = args.includes('--keep');
const ROUNDS = 5;
const QUERIES = [...EVAL_QUERIES, ...UNDICI_QUERIES].map((query) => query.q);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function openBenchDatabase(): Promise<{ db: OpenedDatabase; drop: () => Promise<void> }> {
  const migrationsDir = resolve(__dirname, '../prisma/migrations');
  if (usePglite) {
    const dir = mkdtempSync(join(tmpdir(), 'conveyor-bench-pglite-'));
    const db = await openDatabase({ dataDir: join(dir, 'pglite'), migrationsDir, migrate: true });
    return { db, drop: () => Promise.resolve(rmSync(dir, { recursive: true, force: true })) };
  }
  const admin = new URL(
    process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres',
  );
  const name = `conveyor_bench_${randomBytes(6).toString('hex')}`;
  const run = async (sql: string) => {
    const client = new Client({ connectionString: admin.toString() });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await run(`CREATE DATABASE "${name}"`);
  const url = new URL(admin.toString());
  url.pathname = `/${name}`;
  const db = await openDatabase({
    databaseUrl: url.toString(),
    dataDir: '',
    migrationsDir,
    migrate: true,
  });
  if (keep) console.log(`keeping database ${url.toString()}`);
  return {
    db,
    drop: () => (keep ? Promise.resolve() : run(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)),
  };
}

/** Package directories under node_modules, in a stable order, for the large project. */
function packageDirs(): string[] {
  const root = resolve(__dirname, '../node_modules');
  const dirs: string[] = [];
  for (const entry of readdirSync(root).sort()) {
    if (entry.startsWith('.')) continue;
    if (entry.startsWith('@')) {
      for (const sub of readdirSync(join(root, entry)).sort()) dirs.push(join(root, entry, sub));
    } else dirs.push(join(root, entry));
  }
  return dirs.filter((dir) => statSync(dir).isDirectory());
}

async function main(): Promise<void> {
  const { db, drop } = await openBenchDatabase();
  const embeddingsServer = await startEmbeddingsServer(384);
  const base = { NODE_ENV: 'test', JWT_SECRET: 'x'.repeat(32) };
  const repository = new CodeIndexRepository(db.prisma);
  const lexical = new EmbeddingsService(loadConfig(base));
  const vectors = new EmbeddingsService(
    loadConfig({
      ...base,
      EMBEDDINGS_BASE_URL: embeddingsServer.baseUrl,
      EMBEDDINGS_MODEL: 'bench',
    }),
  );
  const corpus = copyCorpus();
  const big = mkdtempSync(join(tmpdir(), 'conveyor-bench-big-'));
  const signal = new AbortController().signal;
  const report = (line: string) => console.log(line);
  report(`database: ${usePglite ? 'PGlite' : 'PostgreSQL'}`);
  try {
    const newProject = async (root: string) => {
      const id = randomUUID();
      await db.prisma.project.create({
        data: {
          id,
          ownerId: 'bench',
          name: 'bench',
          defaultBranch: 'main',
          workspacePath: root,
          status: 'ready',
        },
      });
      return id;
    };

    // 1. The evaluation corpus: full index, then one edited file.
    const indexer = new CodeIndexerService(repository, lexical);
    const small = await newProject(corpus.root);
    const first = await indexer.run({
      projectId: small,
      root: corpus.root,
      include: ['**/*.js'],
      signal,
    });
    appendFileSync(join(corpus.root, 'classes/backoffs.js'), '\nexport const benchEdit = 1;\n');
    const second = await indexer.run({
      projectId: small,
      root: corpus.root,
      include: ['**/*.js'],
      signal,
    });
    const noop = await indexer.run({
      projectId: small,
      root: corpus.root,
      include: ['**/*.js'],
      signal,
    });
    report(
      `bullmq ${corpus.version} dist/esm: ${first.files.indexed} files, ${first.chunks} chunks: ` +
        `index ${first.durationMs} ms; after one edited file ${second.durationMs} ms ` +
        `(${second.files.indexed} re-indexed); unchanged ${noop.durationMs} ms`,
    );

    // 2. A large project: packages' JavaScript until the index holds chunkTarget chunks.
    git(big, 'init', '-q', '-b', 'main');
    const large = await newProject(big);
    const withVectors = new CodeIndexerService(repository, vectors);
    let chunks = 0;
    let indexMs = 0;
    let files = 0;
    const packages = packageDirs();
    while (chunks < chunkTarget && packages.length > 0) {
      for (let i = 0; i < 10 && packages.length > 0; i++) {
        const dir = packages.shift()!;
        cpSync(dir, join(big, dir.split('/node_modules/')[1]), {
          recursive: true,
          filter: (source) =>
            !source.includes('/node_modules/', dir.length) && !source.endsWith('.d.ts'),
        });
      }
      const run = await withVectors.run({
        projectId: large,
        root: big,
        include: ['**/*.js', '**/*.ts'],
        signal,
      });
      chunks = run.chunks;
      files = run.files.total - run.files.skipped;
      indexMs += run.durationMs;
    }
    report(
      `large project: ${files} files, ${chunks} chunks (with 384-d embeddings) indexed in ${indexMs} ms`,
    );

    for (const [label, embeddings] of [
      ['lexical', lexical],
      ['lexical + vectors', vectors],
    ] as const) {
      const search = new CodeSearchService(
        new ProjectRepository(db.prisma),
        repository,
        embeddings,
      );
      await search.search('bench', large, 'warm up', 10);
      const timings: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        for (const q of QUERIES) {
          const started = process.hrtime.bigint();
          await search.search('bench', large, q, 10);
          timings.push(Number(process.hrtime.bigint() - started) / 1e6);
        }
      }
      timings.sort((a, b) => a - b);
      report(
        `query ${label} over ${chunks} chunks: p50 ${percentile(timings, 50).toFixed(1)} ms, ` +
          `p95 ${percentile(timings, 95).toFixed(1)} ms (${timings.length} queries)`,
      );
    }
  } finally {
    await db.close();
    await drop();
    await embeddingsServer.close();
    rmSync(corpus.root, { recursive: true, force: true });
    rmSync(big, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
