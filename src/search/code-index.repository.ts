import { Inject, Injectable } from '@nestjs/common';
import type { PrismaClient } from '../generated/prisma/client';
import { guardDependency } from '../common/dependency.errors';
import { PRISMA } from '../database/database.tokens';

export interface CatalogEntry {
  contentHash: string;
  status: string;
  chunkerVersion: number;
}

export interface ChunkWrite {
  startLine: number;
  endLine: number;
  symbol: string | null;
  content: string;
  contentHash: string;
  /** Identifier-split words, weighted A (symbol), B (path), D (content). */
  symbolWords: string;
  pathWords: string;
  contentWords: string;
}

export interface FileWrite {
  path: string;
  contentHash: string;
  /** indexed, or the reason it was skipped */
  status: string;
  language: string | null;
  chunks: ChunkWrite[];
}

export interface ChunkRow {
  id: bigint;
  path: string;
  startLine: number;
  endLine: number;
  symbol: string | null;
  language: string | null;
  content: string;
}

export interface RankedId {
  id: bigint;
  score: number;
}

export interface IndexState {
  indexedAt: Date | null;
  chunks: number;
  /** Mean distinct words per chunk (0 when not known yet). */
  termsPerChunk: number;
}

/** The parameters of the BM25-style ranking (`bestMatches`). */
export interface Bm25Ranking {
  /** Chunks in the project (N). */
  chunks: number;
  meanLength: number;
  seedChunks: number;
  pool: number;
  limit: number;
  fieldWeights: [symbol: number, path: number, code: number];
  k1: number;
  b: number;
}

type Tx = Pick<PrismaClient, '$executeRawUnsafe'>;

/** The text-search configuration: english stems words (retries → retri) and drops stop words. */
const TS_CONFIG = 'english';
const CHUNK_ROWS_PER_INSERT = 400;

/**
 * Adds (sign 1) or takes away (sign -1) the chunks of these files from the project's word
 * counts, inside the transaction that writes or removes them, so the counts never drift.
 */
async function countTerms(tx: Tx, projectId: string, paths: string[], sign: 1 | -1) {
  const perTerm = `SELECT l.lexeme AS "term", count(*)::int AS "n"
                     FROM "IndexChunk" c, unnest(tsvector_to_array(c."searchVector")) AS l(lexeme)
                    WHERE c."projectId" = $1::uuid AND c."path" = ANY($2::text[])
                    GROUP BY l.lexeme`;
  await tx.$executeRawUnsafe(
    sign === 1
      ? `INSERT INTO "IndexTerm" ("projectId", "term", "chunks")
         SELECT $1::uuid, s."term", s."n" FROM (${perTerm}) s
         ON CONFLICT ("projectId", "term") DO UPDATE SET "chunks" = "IndexTerm"."chunks" + EXCLUDED."chunks"`
      : `UPDATE "IndexTerm" t SET "chunks" = t."chunks" - s."n"
           FROM (${perTerm}) s
          WHERE t."projectId" = $1::uuid AND t."term" = s."term"`,
    projectId,
    paths,
  );
}

/** All I/O of the code index and search (docs/indexing.md); one SQL for PostgreSQL and PGlite. */
@Injectable()
export class CodeIndexRepository {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  catalog(projectId: string): Promise<Map<string, CatalogEntry>> {
    return guardDependency('database', async () => {
      const rows = await this.prisma.indexedFile.findMany({
        where: { projectId },
        select: { path: true, contentHash: true, status: true, chunkerVersion: true },
      });
      return new Map(rows.map(({ path, ...entry }) => [path, entry]));
    });
  }

  /** Replaces these files and their chunks in one transaction: all of them or none. */
  writeFiles(projectId: string, chunkerVersion: number, files: FileWrite[]): Promise<void> {
    if (files.length === 0) return Promise.resolve();
    return guardDependency('database', () =>
      this.prisma.$transaction(
        async (tx) => {
          const paths = files.map((file) => file.path);
          await countTerms(tx, projectId, paths, -1);
          await tx.indexedFile.deleteMany({ where: { projectId, path: { in: paths } } });
          await tx.indexedFile.createMany({
            data: files.map((file) => ({
              projectId,
              path: file.path,
              contentHash: file.contentHash,
              status: file.status,
              language: file.language,
              chunkerVersion,
              chunkCount: file.chunks.length,
            })),
          });
          const rows = files.flatMap((file) =>
            file.chunks.map((chunk) => ({ ...chunk, path: file.path, language: file.language })),
          );
          for (let i = 0; i < rows.length; i += CHUNK_ROWS_PER_INSERT) {
            const batch = rows.slice(i, i + CHUNK_ROWS_PER_INSERT);
            const params: unknown[] = [projectId];
            const values = batch.map((row) => {
              const at = params.length;
              params.push(
                row.path,
                row.startLine,
                row.endLine,
                row.symbol,
                row.language,
                row.content,
                row.contentHash,
                row.symbolWords,
                row.pathWords,
                row.contentWords,
              );
              const p = (n: number) => `$${at + n}`;
              return (
                `($1::uuid, ${p(1)}, ${p(2)}::int, ${p(3)}::int, ${p(4)}, ${p(5)}, ${p(6)}, ${p(7)}, ` +
                `setweight(to_tsvector('${TS_CONFIG}', ${p(8)}), 'A') || ` +
                `setweight(to_tsvector('${TS_CONFIG}', ${p(9)}), 'B') || ` +
                `setweight(to_tsvector('${TS_CONFIG}', ${p(10)}), 'D'))`
              );
            });
            await tx.$executeRawUnsafe(
              `INSERT INTO "IndexChunk" ("projectId", "path", "startLine", "endLine", "symbol",
                 "language", "content", "contentHash", "searchVector")
               VALUES ${values.join(', ')}`,
              ...params,
            );
          }
          await countTerms(tx, projectId, paths, 1);
        },
        { timeout: 120_000, maxWait: 30_000 },
      ),
    );
  }

  /** Removes files (their chunks go with them); returns how many there were. */
  removeFiles(projectId: string, paths: string[]): Promise<number> {
    return guardDependency('database', async () => {
      let removed = 0;
      for (let i = 0; i < paths.length; i += 1000) {
        const slice = paths.slice(i, i + 1000);
        removed += await this.prisma.$transaction(async (tx) => {
          await countTerms(tx, projectId, slice, -1);
          const { count } = await tx.indexedFile.deleteMany({
            where: { projectId, path: { in: slice } },
          });
          return count;
        });
      }
      return removed;
    });
  }

  /** Fresh planner statistics after a large change (PGlite has no autovacuum to gather them). */
  analyze(): Promise<void> {
    return guardDependency('database', async () => {
      await this.prisma.$executeRawUnsafe('ANALYZE "IndexChunk"');
    });
  }

  markIndexed(
    projectId: string,
    chunkerVersion: number,
  ): Promise<{ files: number; chunks: number }> {
    return guardDependency('database', async () => {
      const [files, [{ chunks, termsPerChunk }]] = await Promise.all([
        this.prisma.indexedFile.count({ where: { projectId, status: 'indexed' } }),
        this.prisma.$queryRawUnsafe<{ chunks: number; termsPerChunk: number }[]>(
          `SELECT count(*)::int AS "chunks",
                  coalesce(avg(length("searchVector")), 0)::float8 AS "termsPerChunk"
             FROM "IndexChunk" WHERE "projectId" = $1::uuid`,
          projectId,
        ),
        this.prisma.indexTerm.deleteMany({ where: { projectId, chunks: { lte: 0 } } }),
      ]);
      const data = { indexedAt: new Date(), chunkerVersion, files, chunks, termsPerChunk };
      await this.prisma.projectIndex.upsert({
        where: { projectId },
        create: { projectId, ...data },
        update: data,
      });
      return { files, chunks };
    });
  }

  state(projectId: string): Promise<IndexState | null> {
    return guardDependency('database', async () => {
      const state = await this.prisma.projectIndex.findUnique({ where: { projectId } });
      const chunks =
        state?.chunks ?? (await this.prisma.indexChunk.count({ where: { projectId } }));
      return state || chunks > 0
        ? { indexedAt: state?.indexedAt ?? null, chunks, termsPerChunk: state?.termsPerChunk ?? 0 }
        : null;
    });
  }

  /** Distinct chunk contents of the project that have no embedding for this model yet. */
  contentsWithoutEmbedding(
    projectId: string,
    model: string,
    limit: number,
  ): Promise<{ contentHash: string; content: string }[]> {
    return guardDependency('database', () =>
      this.prisma.$queryRawUnsafe<{ contentHash: string; content: string }[]>(
        `SELECT DISTINCT ON (c."contentHash") c."contentHash", c."content"
           FROM "IndexChunk" c
          WHERE c."projectId" = $1::uuid
            AND NOT EXISTS (SELECT 1 FROM "ChunkEmbedding" e
                             WHERE e."projectId" = c."projectId" AND e."model" = $2
                               AND e."contentHash" = c."contentHash")
          ORDER BY c."contentHash"
          LIMIT $3`,
        projectId,
        model,
        limit,
      ),
    );
  }

  saveEmbeddings(
    projectId: string,
    model: string,
    rows: { contentHash: string; vector: Float32Array }[],
  ): Promise<void> {
    return guardDependency('database', async () => {
      await this.prisma.chunkEmbedding.createMany({
        data: rows.map(({ contentHash, vector }) => ({
          projectId,
          model,
          contentHash,
          dimensions: vector.length,
          vector: new Uint8Array(Float32Array.from(vector).buffer),
        })),
        skipDuplicates: true,
      });
    });
  }

  /** Embeddings of contents no chunk has any more (kept until the run ends, for renames). */
  pruneEmbeddings(projectId: string): Promise<number> {
    return guardDependency('database', () =>
      this.prisma.$executeRawUnsafe(
        `DELETE FROM "ChunkEmbedding" e
          WHERE e."projectId" = $1::uuid
            AND NOT EXISTS (SELECT 1 FROM "IndexChunk" c
                             WHERE c."projectId" = e."projectId" AND c."contentHash" = e."contentHash")`,
        projectId,
      ),
    );
  }

  // ---- search --------------------------------------------------------------------------------

  /**
   * BM25-style ranking, in one statement. Each query word (lexeme) weighs idf = ln(1 + (N − n +
   * 0.5) / (n + 0.5)) by the n chunks of the N that hold it (`IndexTerm`). The candidates are the
   * chunks holding the rarest words, as many words as keep them to `seedChunks` chunks (the first
   * `pool` by ts_rank); each is scored over all the query's words as Σ idf · tf(k1 + 1) / (tf +
   * k1(1 − b + b·len/meanLen)), tf counting the word's occurrences in the symbol, the path and the
   * code by `fieldWeights` ([symbol, path, code]) and len being the chunk's distinct words.
   */
  bestMatches(projectId: string, words: string, ranking: Bm25Ranking): Promise<RankedId[]> {
    const [symbolWeight, pathWeight, codeWeight] = ranking.fieldWeights;
    const weights = `{${codeWeight / 4},0,${pathWeight / 4},${symbolWeight / 4}}`;
    return guardDependency('database', () =>
      this.prisma.$queryRawUnsafe<RankedId[]>(
        `WITH words AS (
           SELECT t."term", t."chunks"::float8 AS n,
                  ln(1 + ($3::float8 - t."chunks" + 0.5) / (t."chunks" + 0.5)) AS idf,
                  sum(t."chunks") OVER (ORDER BY t."chunks", t."term") AS seeded,
                  row_number() OVER (ORDER BY t."chunks", t."term") AS rarity
             FROM unnest(tsvector_to_array(to_tsvector('${TS_CONFIG}', $2))) AS l(lexeme)
             JOIN "IndexTerm" t ON t."projectId" = $1::uuid AND t."term" = l.lexeme
            WHERE t."chunks" > 0),
         seeds AS (
           SELECT string_agg(quote_literal(w."term"), ' | ')::tsquery AS q
             FROM words w WHERE w.rarity = 1 OR w.seeded <= $4::int),
         cand AS (
           SELECT c."id", c."searchVector" AS v
             FROM "IndexChunk" c
            WHERE c."projectId" = $1::uuid AND c."searchVector" @@ (SELECT q FROM seeds)
            ORDER BY ts_rank('${weights}', c."searchVector", (SELECT q FROM seeds), 1) DESC, c."id"
            LIMIT $5::int),
         tf AS (
           SELECT cand."id", w.idf, length(cand.v) AS len,
                  ${symbolWeight} * cardinality(array_positions(u.weights, 'A'))
                  + ${pathWeight} * cardinality(array_positions(u.weights, 'B'))
                  + ${codeWeight} * cardinality(array_positions(u.weights, 'D')) AS f
             FROM cand, unnest(cand.v) AS u, words w
            WHERE u.lexeme = w."term")
         SELECT tf."id",
                sum(tf.idf * tf.f * ($6::float8 + 1)
                    / (tf.f + $6::float8 * (1 - $7::float8 + $7::float8 * tf.len / $8::float8)))::float8
                  AS "score"
           FROM tf
          GROUP BY tf."id"
          ORDER BY "score" DESC, tf."id"
          LIMIT $9::int`,
        projectId,
        words,
        Math.max(ranking.chunks, 1),
        ranking.seedChunks,
        ranking.pool,
        ranking.k1,
        ranking.b,
        Math.max(ranking.meanLength, 1),
        ranking.limit,
      ),
    );
  }

  /** Chunks whose code holds the text (any case), among those holding all of its words. */
  phraseMatches(
    projectId: string,
    allWords: string,
    text: string,
    limit: number,
  ): Promise<RankedId[]> {
    const escaped = text.toLowerCase().replace(/[\\%_]/g, '\\$&');
    return guardDependency('database', () =>
      this.prisma.$queryRawUnsafe<RankedId[]>(
        `SELECT c."id", 1::float8 AS "score"
           FROM "IndexChunk" c
          WHERE c."projectId" = $1::uuid AND c."searchVector" @@ to_tsquery('${TS_CONFIG}', $2)
            AND c."content" ILIKE '%' || $3 || '%'
          ORDER BY c."id"
          LIMIT $4::int`,
        projectId,
        allWords,
        escaped,
        limit,
      ),
    );
  }

  /** Chunks whose symbol resembles the query (pg_trgm word similarity: partial names). */
  similarSymbols(projectId: string, name: string, limit: number): Promise<RankedId[]> {
    return guardDependency('database', () =>
      this.prisma.$queryRawUnsafe<RankedId[]>(
        `SELECT c."id", word_similarity($2, c."symbol")::float8 AS "score"
           FROM "IndexChunk" c
          WHERE c."projectId" = $1::uuid AND $2 <% c."symbol"
          ORDER BY "score" DESC, length(c."symbol"), c."id"
          LIMIT $3`,
        projectId,
        name,
        limit,
      ),
    );
  }

  /** Chunks whose symbol is exactly the name, or ends in `.name` (a method of any class). */
  exactSymbols(projectId: string, name: string, limit: number): Promise<RankedId[]> {
    const lower = name.toLowerCase();
    const escaped = lower.replace(/[\\%_]/g, '\\$&');
    // The ILIKE lets the symbol's trigram index find the candidates; the rest is exact.
    return guardDependency('database', () =>
      this.prisma.$queryRawUnsafe<RankedId[]>(
        `SELECT c."id", 1::float8 AS "score"
           FROM "IndexChunk" c
          WHERE c."projectId" = $1::uuid AND c."symbol" ILIKE '%' || $3
            AND (lower(c."symbol") = $2 OR lower(c."symbol") LIKE '%.' || $3)
          ORDER BY c."id"
          LIMIT $4`,
        projectId,
        lower,
        escaped,
        limit,
      ),
    );
  }

  /**
   * Chunks of files whose path ends with the given one (`session.ts`, `src/auth/session.ts`),
   * found in the file catalog (one row per file) rather than by scanning every chunk.
   */
  pathMatches(projectId: string, path: string, limit: number): Promise<RankedId[]> {
    const lower = path.toLowerCase();
    const escaped = lower.replace(/[\\%_]/g, '\\$&');
    return guardDependency('database', () =>
      this.prisma.$queryRawUnsafe<RankedId[]>(
        `SELECT c."id", 1::float8 AS "score"
           FROM "IndexChunk" c
          WHERE c."projectId" = $1::uuid
            AND c."path" IN (SELECT f."path" FROM "IndexedFile" f
                              WHERE f."projectId" = $1::uuid
                                AND (lower(f."path") = $2 OR lower(f."path") LIKE '%/' || $3))
          ORDER BY c."path", c."startLine"
          LIMIT $4`,
        projectId,
        lower,
        escaped,
        limit,
      ),
    );
  }

  embeddings(
    projectId: string,
    model: string,
  ): Promise<{ contentHash: string; vector: Uint8Array }[]> {
    return guardDependency('database', () =>
      this.prisma.chunkEmbedding.findMany({
        where: { projectId, model },
        select: { contentHash: true, vector: true },
      }),
    );
  }

  chunkIdsByContent(
    projectId: string,
    hashes: string[],
  ): Promise<{ id: bigint; contentHash: string }[]> {
    return guardDependency('database', () =>
      this.prisma.indexChunk.findMany({
        where: { projectId, contentHash: { in: hashes } },
        select: { id: true, contentHash: true },
      }),
    );
  }

  chunks(projectId: string, ids: bigint[]): Promise<ChunkRow[]> {
    return guardDependency('database', () =>
      this.prisma.indexChunk.findMany({
        where: { projectId, id: { in: ids } },
        select: {
          id: true,
          path: true,
          startLine: true,
          endLine: true,
          symbol: true,
          language: true,
          content: true,
        },
      }),
    );
  }
}
