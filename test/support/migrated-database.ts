import { MIGRATIONS_DIR } from '../../src/database/migrator';
import { openDatabase, type OpenedDatabase } from '../../src/database/prisma-client.factory';

export { MIGRATIONS_DIR };

/** A test database (PostgreSQL), migrated and opened the way the service opens its own. */
export function openMigrated(databaseUrl: string): Promise<OpenedDatabase> {
  return openDatabase({ databaseUrl, dataDir: '', migrationsDir: MIGRATIONS_DIR, migrate: true });
}
