import { Injectable, Logger, NotFoundException } from '@nestjs/common';
import { isUuid } from '../common/ids';
import { EmbeddingsService, EmbeddingsUnavailableError } from '../llm/embeddings.service';
import { ProjectRepository } from '../projects/project.repository';
import {
  CodeIndexRepository,
  type ChunkRow,
  type IndexState,
  type RankedId,
} from './code-index.repository';
import type { SearchHitView, SearchResultView } from './dto/search.view';
import {
  contentWords,
  identifiersIn,
  looksLikePath,
  phraseOf,
  queryWords,
  symbolOf,
} from './identifier-words';

/** Reciprocal-rank constant: the usual 60 keeps one list's top hit from drowning the others. */
const RRF_K = 60;
const CANDIDATES = 100;
const SNIPPET_LINES = 20;
const SNIPPET_CHARS = 1500;
/**
 * The BM25 candidates come from the rarest query words holding at most this many chunks: a
 * common word's chunks are too many to rank on every query (30–45 ms over 20k chunks).
 */
const SEED_CHUNKS = 1500;
const BM25_POOL = 200;
/** Identifiers of one sentence looked up as symbols. */
const MAX_NAMES = 3;
const BM25_K1 = 1.2;
const BM25_B = 0.5;
/** How much one occurrence of a word counts in a chunk's symbol, path and code. */
const FIELD_WEIGHTS: [number, number, number] = [3, 1, 1];
/** Projects whose vectors stay in memory between queries. */
const VECTOR_CACHE_SIZE = 8;

interface RankedList {
  ids: RankedId[];
  weight: number;
}

interface VectorSet {
  version: number;
  hashes: string[];
  norms: Float32Array;
  vectors: Float32Array[];
}

/** A project's code search (docs/indexing.md): lexical, trigram, exact and vector lists fused. */
@Injectable()
export class CodeSearchService {
  private readonly logger = new Logger('CodeSearch');
  private readonly vectorCache = new Map<string, VectorSet>();

  constructor(
    private readonly projects: ProjectRepository,
    private readonly index: CodeIndexRepository,
    private readonly embeddings: EmbeddingsService,
  ) {}

  async search(
    ownerId: string,
    projectId: string,
    q: string,
    limit: number,
  ): Promise<SearchResultView> {
    if (!isUuid(projectId)) throw new NotFoundException(`project ${projectId} not found`);
    const [project, state] = await Promise.all([
      this.projects.findForOwner(projectId, ownerId),
      this.index.state(projectId),
    ]);
    if (!project) throw new NotFoundException(`project ${projectId} not found`);
    const indexedAt = state?.indexedAt?.toISOString() ?? null;
    if (!state || state.chunks === 0) return { items: [], indexedAt };

    const lists = await this.candidates(projectId, q.trim(), state);
    const scores = new Map<bigint, number>();
    for (const list of lists) {
      list.ids.forEach(({ id }, rank) => {
        scores.set(id, (scores.get(id) ?? 0) + list.weight / (RRF_K + rank + 1));
      });
    }
    const top = [...scores.entries()].sort((a, b) => b[1] - a[1]).slice(0, limit * 4);
    const rows = await this.index.chunks(
      projectId,
      top.map(([id]) => id),
    );
    const byId = new Map(rows.map((row) => [row.id, row]));
    const ranked = top.flatMap(([id, score]) => {
      const row = byId.get(id);
      return row ? [{ row, score }] : [];
    });
    return { items: mergeOverlapping(ranked).slice(0, limit), indexedAt };
  }

  private async candidates(projectId: string, q: string, state: IndexState): Promise<RankedList[]> {
    const version = state.indexedAt?.getTime() ?? 0;
    const words = queryWords(q);
    const symbol = symbolOf(q);
    const lists: Promise<RankedList>[] = [];
    const add = (weight: number, ids: Promise<RankedId[]>) =>
      lists.push(ids.then((found) => ({ ids: found, weight })));
    if (words.length > 0) {
      add(
        1,
        this.index.bestMatches(projectId, contentWords(words).join(' '), {
          chunks: state.chunks,
          meanLength: state.termsPerChunk || 100,
          seedChunks: SEED_CHUNKS,
          pool: BM25_POOL,
          limit: CANDIDATES,
          fieldWeights: FIELD_WEIGHTS,
          k1: BM25_K1,
          b: BM25_B,
        }),
      );
    }
    // A lone identifier, which may be partial or misspelt (`changePrior`): exact and similar names.
    if (symbol !== null) {
      add(2, this.index.exactSymbols(projectId, symbol, 20));
      add(1, this.index.similarSymbols(projectId, symbol, CANDIDATES / 2));
    }
    // A name inside a sentence (`RetryHandler resumes …`): its exact symbol only; the class's
    // members by similar name would crowd out what the sentence asks about.
    for (const name of symbol === null ? identifiersIn(q).slice(0, MAX_NAMES) : []) {
      add(1, this.index.exactSymbols(projectId, name, 5));
    }
    const phrase = symbol === null ? phraseOf(q) : null;
    const phraseWords = phrase === null ? [] : queryWords(phrase);
    if (phrase !== null && phraseWords.length > 0) {
      add(2, this.index.phraseMatches(projectId, phraseWords.join(' & '), phrase, 20));
    }
    if (looksLikePath(q)) add(2, this.index.pathMatches(projectId, q.replace(/^\.?\//, ''), 20));
    if (this.embeddings.enabled) {
      // The provider being down must not take search down: the lexical lists still answer.
      const nearest = this.nearestByVector(projectId, q, version).catch((error: unknown) => {
        if (!(error instanceof EmbeddingsUnavailableError)) throw error;
        this.logger.warn(`vector search skipped: ${error.message}`);
        return [];
      });
      add(1, nearest);
    }
    return Promise.all(lists);
  }

  private async nearestByVector(
    projectId: string,
    q: string,
    version: number,
  ): Promise<RankedId[]> {
    const model = this.embeddings.modelName!;
    const set = await this.vectors(projectId, model, version);
    if (set.hashes.length === 0) return [];
    const [query] = await this.embeddings.embed([q]);
    const queryNorm = norm(query);
    const scored = set.vectors.map((vector, i) => {
      let dot = 0;
      for (let d = 0; d < vector.length && d < query.length; d++) dot += vector[d] * query[d];
      return { hash: set.hashes[i], score: dot / (set.norms[i] * queryNorm || 1) };
    });
    scored.sort((a, b) => b.score - a.score);
    const best = scored.slice(0, CANDIDATES / 2);
    const ids = await this.index.chunkIdsByContent(
      projectId,
      best.map((entry) => entry.hash),
    );
    const rank = new Map(best.map((entry, i) => [entry.hash, i]));
    return ids
      .sort((a, b) => rank.get(a.contentHash)! - rank.get(b.contentHash)! || Number(a.id - b.id))
      .map(({ id, contentHash }) => ({ id, score: best[rank.get(contentHash)!].score }));
  }

  /** The project's vectors, decoded once per completed indexing run. */
  private async vectors(projectId: string, model: string, version: number): Promise<VectorSet> {
    const key = `${projectId}\n${model}`;
    const cached = this.vectorCache.get(key);
    if (cached && cached.version === version) return cached;
    const rows = await this.index.embeddings(projectId, model);
    const vectors = rows.map(({ vector }) => new Float32Array(Uint8Array.from(vector).buffer));
    const set: VectorSet = {
      version,
      hashes: rows.map((row) => row.contentHash),
      vectors,
      norms: Float32Array.from(vectors, norm),
    };
    this.vectorCache.delete(key);
    this.vectorCache.set(key, set);
    if (this.vectorCache.size > VECTOR_CACHE_SIZE) {
      this.vectorCache.delete(this.vectorCache.keys().next().value!);
    }
    return set;
  }
}

function norm(vector: Float32Array): number {
  let sum = 0;
  for (const value of vector) sum += value * value;
  return Math.sqrt(sum);
}

function snippet(content: string): string {
  return content.split('\n').slice(0, SNIPPET_LINES).join('\n').slice(0, SNIPPET_CHARS);
}

/** One hit per overlapping region of a file: the best chunk's snippet, the union of the lines. */
function mergeOverlapping(ranked: { row: ChunkRow; score: number }[]): SearchHitView[] {
  const hits: (SearchHitView & { row: ChunkRow })[] = [];
  for (const { row, score } of ranked) {
    const overlapping = hits.find(
      (hit) =>
        hit.path === row.path && row.startLine <= hit.endLine && row.endLine >= hit.startLine,
    );
    if (overlapping) {
      overlapping.startLine = Math.min(overlapping.startLine, row.startLine);
      overlapping.endLine = Math.max(overlapping.endLine, row.endLine);
      continue;
    }
    hits.push({
      row,
      path: row.path,
      startLine: row.startLine,
      endLine: row.endLine,
      ...(row.symbol !== null && { symbol: row.symbol }),
      ...(row.language !== null && { language: row.language }),
      snippet: snippet(row.content),
      score: Math.round(score * 1e6) / 1e6,
    });
  }
  return hits.map(({ row: _row, ...hit }) => hit);
}
