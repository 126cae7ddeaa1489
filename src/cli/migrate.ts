import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { Client } from 'pg';
import { messageOf } from '../common/errors';
import { parseDatabaseConfig, pgliteDir } from '../config/database.config';
import { applyMigrations, MIGRATIONS_DIR, pgExecutor, pgliteExecutor } from '../database/migrator';

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
  let target = 'the database';
  try {
    // The server's own reading of DATABASE_URL and DATA_DIR, so both migrate the same database.
    const config = parseDatabaseConfig(process.env, process.cwd());
    target = config.databaseUrl ? 'PostgreSQL' : `embedded PGlite (${pgliteDir(config)})`;
    const applied = await migrate(config.databaseUrl, pgliteDir(config), (line) =>
      console.log(line),
    );
    if (applied.length === 0) console.log('database is up to date');
  } catch (error) {
    const message = messageOf(error);
    console.error(`db:migrate failed on ${target}: ${message.replace(/\s*\n\s*/g, ' ')}`);
    process.exitCode = 1;
  }
}

if (require.main === module) void main();
