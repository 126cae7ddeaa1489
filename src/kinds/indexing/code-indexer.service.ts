import { createHash } from 'node:crypto';
import { lstat, readFile, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { Injectable } from '@nestjs/common';
import { JobCancelledError } from '../../core/job.errors';
import { EmbeddingsService } from '../../llm/embeddings.service';
import {
  CodeIndexRepository,
  type CatalogEntry,
  type FileWrite,
} from '../../search/code-index.repository';
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

/** A file met by a run: its hash and text, or why it is skipped. */
interface Candidate {
  hash: string;
  text: string | null;
  skip: SkipReason | null;
}

/** What writing the changed files found. */
interface FileScan {
  present: Set<string>;
  indexed: number;
  unchanged: number;
  skippedByReason: Record<SkipReason, number>;
  writtenChunks: number;
}

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
    const checkCancel = () => {
      if (signal.aborted) throw new JobCancelledError();
    };
    const root = await realpath(options.root);
    const listed = await listRepositoryFiles(root, signal).catch((error: Error) => {
      checkCancel();
      throw error;
    });
    const paths = filterPaths(listed, options.include, options.exclude);
    const catalog = await this.index.catalog(projectId);
    const scan = await this.writeChangedFiles(root, paths, catalog, options, checkCancel);

    const gone = [...catalog.keys()].filter((path) => !scan.present.has(path));
    const removed = await this.index.removeFiles(projectId, gone);
    const embedded = await this.embedMissing(projectId, signal);
    await this.index.pruneEmbeddings(projectId);
    const totals = await this.index.markIndexed(projectId, CHUNKER_VERSION);
    if (scan.writtenChunks >= ANALYZE_AFTER_CHUNKS || scan.writtenChunks * 5 >= totals.chunks) {
      await this.index.analyze();
    }
    const { indexed, unchanged, skippedByReason } = scan;
    const skipped = Object.values(skippedByReason).reduce((sum, n) => sum + n, 0);
    return {
      files: { total: scan.present.size, indexed, unchanged, removed, skipped, skippedByReason },
      chunks: totals.chunks,
      embedded,
      durationMs: Date.now() - started,
    };
  }

  /**
   * Writes, batch by batch, every listed file whose content, status or chunker differs from the
   * catalog (every file on a full reindex), reporting progress as it goes.
   */
  private async writeChangedFiles(
    root: string,
    paths: string[],
    catalog: Map<string, CatalogEntry>,
    options: IndexRunOptions,
    checkCancel: () => void,
  ): Promise<FileScan> {
    const { projectId } = options;
    const scan: FileScan = {
      present: new Set<string>(),
      indexed: 0,
      unchanged: 0,
      skippedByReason: Object.fromEntries(SKIP_REASONS.map((reason) => [reason, 0])) as Record<
        SkipReason,
        number
      >,
      writtenChunks: 0,
    };
    let done = 0;
    let pending: FileWrite[] = [];
    let pendingChunks = 0;

    const flush = async () => {
      await this.index.writeFiles(projectId, CHUNKER_VERSION, pending);
      done += pending.length;
      scan.writtenChunks += pendingChunks;
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
      const write = await this.changedFile(root, path, catalog, options.fullReindex, scan);
      if (write === null) {
        done++;
        continue;
      }
      pending.push(write);
      pendingChunks += write.chunks.length;
      if (pending.length >= BATCH_FILES || pendingChunks >= BATCH_CHUNKS) await flush();
    }
    checkCancel();
    await flush();
    return scan;
  }

  /** Counts the file in the scan; what to write for it, or null when it needs no write. */
  private async changedFile(
    root: string,
    path: string,
    catalog: Map<string, CatalogEntry>,
    fullReindex: boolean | undefined,
    scan: FileScan,
  ): Promise<FileWrite | null> {
    const file = await this.readCandidate(root, path);
    if (file === null) return null;
    scan.present.add(path);
    const known = catalog.get(path);
    const status = file.skip ?? 'indexed';
    if (file.skip) scan.skippedByReason[file.skip]++;
    if (
      !fullReindex &&
      known?.contentHash === file.hash &&
      known.status === status &&
      known.chunkerVersion === CHUNKER_VERSION
    ) {
      if (!file.skip) scan.unchanged++;
      return null;
    }
    const write = await this.fileWrite(path, file, status);
    if (!file.skip) scan.indexed++;
    return write;
  }

  /** A file as the index stores it: its chunks, each with the words it is found by. */
  private async fileWrite(path: string, file: Candidate, status: string): Promise<FileWrite> {
    const language = languageOf(path);
    const chunks = file.skip || file.text === null ? [] : await this.chunker.chunk(path, file.text);
    const pathWords = identifierWords(path).join(' ');
    return {
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
  private async readCandidate(root: string, path: string): Promise<Candidate | null> {
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
