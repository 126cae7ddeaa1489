import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { loadConfig } from '../../src/config/app-config';
import type { PrismaClient } from '../../src/generated/prisma/client';
import { CodeIndexerService } from '../../src/kinds/indexing/code-indexer.service';
import { EmbeddingsService } from '../../src/llm/embeddings.service';
import { ProjectRepository } from '../../src/projects/project.repository';
import { CodeIndexRepository } from '../../src/search/code-index.repository';
import { CodeSearchService } from '../../src/search/code-search.service';
import {
  chunkMatch,
  copyCorpus,
  copyMcpSdk,
  copyUndici,
  EVAL_QUERIES,
  fileMatch,
  formatScores,
  isAnswer,
  scoreBy,
  type EvalQuery,
  type LevelScores,
  type LinedQuery,
} from './search-eval';
import type { SearchHitView } from '../../src/search/dto/search.view';
import { MCP_QUERIES } from './search-eval-mcp';
import { UNDICI_QUERIES } from './search-eval-undici';

export interface SetScores {
  version: string;
  files: number;
  chunks: number;
  file: LevelScores;
  chunk: LevelScores;
  byKind: Record<string, LevelScores>;
}

/** Indexes a corpus as a project of its own (lexical search only) and returns a search on it. */
async function indexed(
  prisma: PrismaClient,
  root: string,
): Promise<{
  search: (q: string) => Promise<import('../../src/search/dto/search.view').SearchHitView[]>;
  files: number;
  chunks: number;
}> {
  const projectId = randomUUID();
  await prisma.project.create({
    data: {
      id: projectId,
      ownerId: 'eval',
      name: 'eval',
      defaultBranch: 'main',
      workspacePath: root,
      status: 'ready',
    },
  });
  const repository = new CodeIndexRepository(prisma);
  const embeddings = new EmbeddingsService(
    loadConfig({ NODE_ENV: 'test', JWT_SECRET: 'x'.repeat(32) }),
  );
  const result = await new CodeIndexerService(repository, embeddings).run({
    projectId,
    root,
    include: ['**/*.js'],
    signal: new AbortController().signal,
  });
  const service = new CodeSearchService(new ProjectRepository(prisma), repository, embeddings);
  return {
    search: async (q) => (await service.search('eval', projectId, q, 10)).items,
    files: result.files.indexed,
    chunks: result.chunks,
  };
}

/**
 * Indexes the corpus, asks every query and scores the rankings: file level by `inFile`, chunk
 * level (overall and by the query's sort) by `inChunk`.
 */
async function evaluate<Q extends { q: string; kind: string }>(
  prisma: PrismaClient,
  corpus: { root: string; version: string },
  queries: Q[],
  inFile: (hit: SearchHitView, query: Q) => boolean,
  inChunk: (hit: SearchHitView, query: Q) => boolean,
): Promise<SetScores> {
  try {
    const { search, files, chunks } = await indexed(prisma, corpus.root);
    const rankings: { query: Q; hits: SearchHitView[] }[] = [];
    for (const query of queries) rankings.push({ query, hits: await search(query.q) });
    const kinds = [...new Set(queries.map((query) => query.kind))];
    return {
      version: corpus.version,
      files,
      chunks,
      file: scoreBy(rankings, inFile),
      chunk: scoreBy(rankings, inChunk),
      byKind: Object.fromEntries(
        kinds.map((kind) => [
          kind,
          scoreBy(
            rankings.filter((ranking) => ranking.query.kind === kind),
            inChunk,
          ),
        ]),
      ),
    };
  } finally {
    rmSync(corpus.root, { recursive: true, force: true });
  }
}

/** The bullmq set: file level by path, chunk level by path and symbol (its answers' form). */
export function evaluateBullmq(prisma: PrismaClient): Promise<SetScores> {
  return evaluate<EvalQuery>(
    prisma,
    copyCorpus(),
    EVAL_QUERIES,
    (hit, query) => query.answers.some((answer) => answer.path === hit.path),
    (hit, query) => isAnswer(hit, query.answers),
  );
}

/** The harder set over undici: file level by path, chunk level by overlapping lines. */
export function evaluateUndici(prisma: PrismaClient): Promise<SetScores> {
  return evaluateLined(prisma, copyUndici(), UNDICI_QUERIES);
}

/** The held-out set over the MCP SDK's compiled JavaScript, scored as the undici one. */
export function evaluateMcpSdk(prisma: PrismaClient): Promise<SetScores> {
  return evaluateLined(prisma, copyMcpSdk(), MCP_QUERIES);
}

function evaluateLined(
  prisma: PrismaClient,
  corpus: { root: string; version: string },
  queries: LinedQuery[],
): Promise<SetScores> {
  return evaluate(
    prisma,
    corpus,
    queries,
    (hit, query) => fileMatch(hit, query.answers),
    (hit, query) => chunkMatch(hit, query.answers),
  );
}

export function describeScores(name: string, scores: SetScores): string {
  const kinds = Object.entries(scores.byKind)
    .map(([kind, part]) => `${kind} R@10 ${part.recallAt10.toFixed(2)}`)
    .join(', ');
  return (
    `${name} ${scores.version} (${scores.files} files, ${scores.chunks} chunks): ` +
    `${formatScores('file', scores.file)}; ${formatScores('chunk', scores.chunk)} (chunk ${kinds})` +
    (scores.chunk.misses.length > 0 ? `\n  chunk misses: ${scores.chunk.misses.join(' | ')}` : '') +
    (scores.file.misses.length > 0 ? `\n  file misses: ${scores.file.misses.join(' | ')}` : '')
  );
}
