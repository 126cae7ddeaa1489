import { createHash } from 'node:crypto';
import { lstat, readFile, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { Injectable } from '@nestjs/common';
import { JobCancelledError } from '../../core/job.errors';
import { EmbeddingsService } from '../../llm/embeddings.service';
import { CodeIndexRepository, type FileWrite } from '../../search/code-index.repository';
import { identifierWords } from '../../search/identifier-words';
import { CHUNKER_VERSION, CodeChunker, languageOf } from './code-chunker';
import {
  filterPaths,
  listRepositoryFiles,
  MAX_FILE_BYTES,
  skipByContent,
  skipByName,
  SKIP_REASONS,
  type SkipReason,
} from './file-discovery';
import type { IndexingResult } from './indexing.result';

export interface IndexRunOptions {
  projectId: string;
  root: string;
  include?: string[];
  exclude?: string[];
  fullReindex?: boolean;
  signal: AbortSignal;
  /** Called after every committed batch with the files done so far. */
  onProgress?: (done: number, total: number) => Promise<void>;
}

/** Files committed together: a killed run loses at most one batch, which the next run redoes. */
const BATCH_FILES = 50;
const BATCH_CHUNKS = 2000;
const EMBED_PAGE = 256;
const PROGRESS_EVERY = 200;
/** Chunks written by a run past which the planner's statistics are refreshed. */
const ANALYZE_AFTER_CHUNKS = 1000;

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/** Brings a project's code index up to date with its workspace (docs/indexing.md). */
@Injectable()
export class CodeIndexerService {
  private readonly chunker = new CodeChunker();

  constructor(
    private readonly index: CodeIndexRepository,
    private readonly embeddings: EmbeddingsService,
  ) {}

  async run(options: IndexRunOptions): Promise<IndexingResult> {
    const started = Date.now();
    const { projectId, signal } = options;
    let root = options.root;
    const checkCancel = () => {
      if (signal.aborted) throw new JobCancelledError();
    };
    root = await realpath(root);
    const listed = await listRepositoryFiles(root, signal).catch((error: Error) => {
      checkCancel();
      throw error;
    });
    const paths = filterPaths(listed, options.include, options.exclude);
    const catalog = await this.index.catalog(projectId);
    const skippedByReason = Object.fromEntries(SKIP_REASONS.map((reason) => [reason, 0])) as Record<
      SkipReason,
      number
    >;
    let indexed = 0;
    let unchanged = 0;
    let done = 0;
    let pending: FileWrite[] = [];
    let pendingChunks = 0;
    let writtenChunks = 0;
    const present = new Set<string>();

    const flush = async () => {
      await this.index.writeFiles(projectId, CHUNKER_VERSION, pending);
      done += pending.length;
      writtenChunks += pendingChunks;
      pending = [];
      pendingChunks = 0;
      await options.onProgress?.(done, paths.length);
    };

    let reported = 0;
    for (const path of paths) {
      checkCancel();
      if (done - reported >= PROGRESS_EVERY) {
        reported = done;
        await options.onProgress?.(done, paths.length);
      }
      const file = await this.readCandidate(root, path);
      if (file === null) {
        done++;
        continue;
      }
      present.add(path);
      const known = catalog.get(path);
      const status = file.skip ?? 'indexed';
      if (file.skip) skippedByReason[file.skip]++;
      if (
        !options.fullReindex &&
        known?.contentHash === file.hash &&
        known.status === status &&
        known.chunkerVersion === CHUNKER_VERSION
      ) {
        if (!file.skip) unchanged++;
        done++;
        continue;
      }
      const language = languageOf(path);
      const chunks =
        file.skip || file.text === null ? [] : await this.chunker.chunk(path, file.text);
      const pathWords = identifierWords(path).join(' ');
      pending.push({
        path,
        contentHash: file.hash,
        status,
        language,
        chunks: chunks.map((chunk) => ({
          ...chunk,
          contentHash: sha256(chunk.content),
          symbolWords: chunk.symbol ? identifierWords(chunk.symbol).join(' ') : '',
          pathWords,
          contentWords: identifierWords(chunk.content).join(' '),
        })),
      });
      if (!file.skip) indexed++;
      pendingChunks += chunks.length;
      if (pending.length >= BATCH_FILES || pendingChunks >= BATCH_CHUNKS) await flush();
    }
    checkCancel();
    await flush();

    const gone = [...catalog.keys()].filter((path) => !present.has(path));
    const removed = await this.index.removeFiles(projectId, gone);
    const embedded = await this.embedMissing(projectId, signal);
    await this.index.pruneEmbeddings(projectId);
    const totals = await this.index.markIndexed(projectId, CHUNKER_VERSION);
    if (writtenChunks >= ANALYZE_AFTER_CHUNKS || writtenChunks * 5 >= totals.chunks) {
      await this.index.analyze();
    }
    const skipped = Object.values(skippedByReason).reduce((sum, n) => sum + n, 0);
    return {
      files: { total: present.size, indexed, unchanged, removed, skipped, skippedByReason },
      chunks: totals.chunks,
      embedded,
      durationMs: Date.now() - started,
    };
  }

  /** Embeds every chunk content of the project that has no vector for the model yet. */
  private async embedMissing(projectId: string, signal: AbortSignal): Promise<number> {
    const model = this.embeddings.modelName;
    if (!this.embeddings.enabled || model === null) return 0;
    let embedded = 0;
    for (;;) {
      if (signal.aborted) throw new JobCancelledError();
      const missing = await this.index.contentsWithoutEmbedding(projectId, model, EMBED_PAGE);
      if (missing.length === 0) return embedded;
      const vectors = await this.embeddings.embed(
        missing.map((row) => row.content),
        signal,
      );
      await this.index.saveEmbeddings(
        projectId,
        model,
        missing.map((row, i) => ({ contentHash: row.contentHash, vector: vectors[i] })),
      );
      embedded += missing.length;
    }
  }

  /** A regular file's hash and text, or why it is skipped; null for what is not a file. */
  private async readCandidate(
    root: string,
    path: string,
  ): Promise<{ hash: string; text: string | null; skip: SkipReason | null } | null> {
    const full = join(root, path);
    // A symlink (or a symlinked directory on the way) may point outside the workspace.
    const stats = await lstat(full).catch(() => null);
    if (!stats || !stats.isFile()) return null;
    const real = await realpath(full).catch(() => null);
    if (real === null || !real.startsWith(`${root}/`)) return null;
    if (stats.size > MAX_FILE_BYTES) {
      return { hash: `size:${stats.size}`, text: null, skip: 'too-large' };
    }
    const byName = skipByName(path);
    if (byName) return { hash: `size:${stats.size}`, text: null, skip: byName };
    const bytes = await readFile(full).catch(() => null);
    if (!bytes) return null;
    const hash = sha256(bytes);
    const byContent = skipByContent(bytes);
    return { hash, text: byContent ? null : bytes.toString('utf8'), skip: byContent };
  }
}
