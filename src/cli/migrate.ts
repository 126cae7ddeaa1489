import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Client } from 'pg';
import { applyMigrations, MIGRATIONS_DIR, pgExecutor, pgliteExecutor } from '../database/migrator';
export const DEFAULT_PGLITE_DIR = './.data/pglite';

export async function migrate(
  databaseUrl: string | undefined,
  pgliteDir: string,
  print: (line: string) => void,
): Promise<string[]> {
  if (databaseUrl) {
    const client = new Client({ connectionString: databaseUrl });
    // A dropped connection already fails the pending query; the event must not crash us.
    client.on('error', () => undefined);
    await client.connect();
    try {
      return await applyMigrations(pgExecutor(client), MIGRATIONS_DIR, print);
    } finally {
      await client.end();
    }
  }
  mkdirSync(pgliteDir, { recursive: true });
  const db = await PGlite.create(pgliteDir);
  try {
    return await applyMigrations(pgliteExecutor(db), MIGRATIONS_DIR, print);
  } finally {
    await db.close();
  }
}

async function main(): Promise<void> {
  const databaseUrl = process.env.DATABASE_URL?.trim() || undefined;
  const target = databaseUrl
    ? 'PostgreSQL'
    : `embedded PGlite (${path.resolve(DEFAULT_PGLITE_DIR)})`;
  try {
    const applied = await migrate(databaseUrl, DEFAULT_PGLITE_DIR, (line) => console.log(line));
    if (applied.length === 0) console.log('database is up to date');
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    console.error(`db:migrate failed on ${target}: ${message.replace(/\s*\n\s*/g, ' ')}`);
    process.exitCode = 1;
  }
}

if (require.main === module) void main();
