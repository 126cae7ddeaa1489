// A child process that indexes one project and reports each committed batch on stdout, so a
// test can SIGKILL it half-way. Env: DATABASE_URL, PROJECT_ID, ROOT, MIGRATIONS_DIR.
import { loadConfig } from '../../src/config/app-config';
import { openDatabase } from '../../src/database/prisma-client.factory';
import { CodeIndexerService } from '../../src/kinds/indexing/code-indexer.service';
import { EmbeddingsService } from '../../src/llm/embeddings.service';
import { CodeIndexRepository } from '../../src/search/code-index.repository';

async function main(): Promise<void> {
  const env = (name: string) => {
    const value = process.env[name];
    if (!value) throw new Error(`${name} is required`);
    return value;
  };
  const db = await openDatabase({
    databaseUrl: env('DATABASE_URL'),
    dataDir: '',
    migrationsDir: env('MIGRATIONS_DIR'),
    migrate: false,
  });
  const indexer = new CodeIndexerService(
    new CodeIndexRepository(db.prisma),
    new EmbeddingsService(loadConfig({ NODE_ENV: 'test', JWT_SECRET: 'x'.repeat(32) })),
  );
  await indexer.run({
    projectId: env('PROJECT_ID'),
    root: env('ROOT'),
    signal: new AbortController().signal,
    onProgress: (done) => {
      process.stdout.write(`progress ${done}\n`);
      return Promise.resolve();
    },
  });
  process.stdout.write('finished\n');
  await db.close();
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
