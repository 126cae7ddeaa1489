import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/app-config';
import type { OpenedDatabase } from '../../src/database/prisma-client.factory';
import { MIGRATIONS_DIR, openMigrated } from '../support/migrated-database';
import { CodeIndexerService } from '../../src/kinds/indexing/code-indexer.service';
import { EmbeddingsService } from '../../src/llm/embeddings.service';
import { CodeIndexRepository } from '../../src/search/code-index.repository';
import { git, writeFiles } from '../support/code-index';
import { TS_CHILD_REGISTER } from '../support/conveyor-process';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { waitFor } from '../support/wait';

const FILES = 600;

describe('an indexing process killed half-way (SIGKILL)', () => {
  let db: TestDatabase;
  let opened: OpenedDatabase;
  let root: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    opened = await openMigrated(db.url);
    root = mkdtempSync(join(tmpdir(), 'conveyor-index-kill-'));
    git(root, 'init', '-q', '-b', 'main');
    writeFiles(
      root,
      Object.fromEntries(
        Array.from({ length: FILES }, (_, i) => [
          `src/part${String(i).padStart(3, '0')}.ts`,
          Array.from(
            { length: 8 },
            (_, j) => `export function fn${i}_${j}(x: number) {\n  return x * ${j};\n}\n`,
          ).join('\n'),
        ]),
      ),
    );
  });

  afterAll(async () => {
    await opened?.close();
    await db?.drop();
    rmSync(root, { recursive: true, force: true });
  });

  it('leaves a consistent index, and the next run indexes exactly what is missing', async () => {
    const prisma = opened.prisma;
    const projectId = randomUUID();
    await prisma.project.create({
      data: {
        id: projectId,
        ownerId: 'k',
        name: 'k',
        defaultBranch: 'main',
        workspacePath: root,
        status: 'ready',
      },
    });
    const child = spawn(
      process.execPath,
      ['-r', TS_CHILD_REGISTER, join(__dirname, '../support/index-child.ts')],
      {
        env: {
          ...process.env,
          DATABASE_URL: db.url,
          PROJECT_ID: projectId,
          ROOT: root,
          MIGRATIONS_DIR,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolvePromise) =>
      child.on('exit', (_code, signal) => resolvePromise(signal)),
    );
    try {
      await waitFor(
        'the first committed batch',
        () => Promise.resolve(/progress \d+/.test(stdout)),
        60_000,
      );
    } catch (error) {
      child.kill('SIGKILL');
      throw new Error(`${String(error)}; child stderr: ${stderr}`);
    }
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    expect(stdout).not.toContain('finished');

    const files = await prisma.indexedFile.findMany({
      where: { projectId },
      include: { _count: { select: { chunks: true } } },
    });
    expect(files.length).toBeGreaterThan(0);
    expect(files.length).toBeLessThan(FILES);
    for (const file of files) expect(file._count.chunks).toBe(file.chunkCount);

    const indexer = new CodeIndexerService(
      new CodeIndexRepository(prisma),
      new EmbeddingsService(loadConfig({ NODE_ENV: 'test', JWT_SECRET: 'x'.repeat(32) })),
    );
    const resumed = await indexer.run({ projectId, root, signal: new AbortController().signal });
    expect(resumed.files).toMatchObject({
      total: FILES,
      indexed: FILES - files.length,
      unchanged: files.length,
      removed: 0,
    });
    expect(await prisma.indexedFile.count({ where: { projectId } })).toBe(FILES);
    expect(resumed.chunks).toBe(FILES * 8);
  });
});
