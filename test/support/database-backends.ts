import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIGRATIONS_DIR } from '../../src/database/migrator';
import { openDatabase, type OpenedDatabase } from '../../src/database/prisma-client.factory';
import { createTestDatabase, type TestDatabase } from './database';

/**
 * One of the two databases Conveyor runs on, migrated and opened for an integration spec. A spec
 * that uses PGlite must also `jest.mock('@electric-sql/pglite', …nativePGliteModule())` itself
 * (jest.mock is hoisted per file).
 */
export interface DatabaseBackend {
  name: string;
  open(): Promise<OpenedDatabase>;
  cleanup(): Promise<void>;
}

/** A fresh database on the test PostgreSQL server, dropped by cleanup(). */
export function postgresBackend(): DatabaseBackend {
  let db: TestDatabase | undefined;
  return {
    name: 'PostgreSQL',
    async open() {
      db = await createTestDatabase();
      return openDatabase({
        databaseUrl: db.url,
        dataDir: '',
        migrationsDir: MIGRATIONS_DIR,
        migrate: true,
      });
    },
    cleanup: async () => db?.drop(),
  };
}

/** An embedded PGlite database in a temporary directory, removed by cleanup(). */
export function pgliteBackend(): DatabaseBackend {
  const dir = mkdtempSync(join(tmpdir(), 'conveyor-pglite-'));
  return {
    name: 'PGlite',
    open: () =>
      openDatabase({ dataDir: join(dir, 'pglite'), migrationsDir: MIGRATIONS_DIR, migrate: true }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
}
