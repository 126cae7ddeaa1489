import { createHash, randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import type { ClientBase } from 'pg';

/** The project's migrations, found alike from src/ (ts-node, Jest) and dist/ (compiled). */
export const MIGRATIONS_DIR = path.resolve(__dirname, '../../prisma/migrations');

export type SqlRow = Record<string, unknown>;

/** The two operations the migrator needs, over any PostgreSQL session (pg or PGlite). */
export interface SqlExecutor {
  /** One statement, bind parameters allowed; needs no `this`, so it can be handed on alone. */
  query: <R extends SqlRow = SqlRow>(sql: string, params?: readonly unknown[]) => Promise<R[]>;
  /** A whole script of statements (simple query protocol), no parameters. */
  exec(sql: string): Promise<void>;
}

/** A session (`Client`), or a `Pool` when only `query` is used: each query takes any connection. */
export function pgExecutor(client: Pick<ClientBase, 'query'>): SqlExecutor {
  return {
    async query<R extends SqlRow>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
      const result = await client.query<R>(sql, [...params]);
      return result.rows;
    },
    async exec(sql: string): Promise<void> {
      await client.query(sql);
    },
  };
}

export function pgliteExecutor(db: Pick<PGlite, 'query' | 'exec'>): SqlExecutor {
  return {
    async query<R extends SqlRow>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
      const result = await db.query<R>(sql, [...params]);
      return result.rows;
    },
    async exec(sql: string): Promise<void> {
      await db.exec(sql);
    },
  };
}

export class MigrationError extends Error {
  override readonly name = 'MigrationError';

  constructor(
    message: string,
    readonly migrationName?: string,
  ) {
    super(message);
  }
}

/** The key `prisma migrate` locks with, so this runner and Prisma's exclude each other. */
export const PRISMA_MIGRATE_LOCK_KEY = 72707369;

/** Prisma's own DDL (schema-engine, postgres flavour), made idempotent. */
const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS _prisma_migrations (
    id                      VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum                VARCHAR(64) NOT NULL,
    finished_at             TIMESTAMPTZ,
    migration_name          VARCHAR(255) NOT NULL,
    logs                    TEXT,
    rolled_back_at          TIMESTAMPTZ,
    started_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_steps_count     INTEGER NOT NULL DEFAULT 0
)`;

interface MigrationFile {
  name: string;
  script: string;
  checksum: string;
}

interface MigrationRecord extends SqlRow {
  id: string;
  checksum: string;
  finished_at: Date | null;
  migration_name: string;
  logs: string | null;
  rolled_back_at: Date | null;
  started_at: Date;
}

/**
 * Applies `<migrationsDir>/<name>/migration.sql` in name order with the bookkeeping of
 * `prisma migrate deploy` (table `_prisma_migrations`), so either tool can take over.
 * Returns the names of the migrations applied by this call.
 */
export async function applyMigrations(
  db: SqlExecutor,
  migrationsDir: string,
  log: (line: string) => void = () => undefined,
): Promise<string[]> {
  const migrations = await readMigrations(migrationsDir);

  const [{ locked }] = await db.query<{ locked: boolean }>(
    'SELECT pg_try_advisory_lock($1) AS locked',
    [PRISMA_MIGRATE_LOCK_KEY],
  );
  if (!locked) {
    log('waiting for another migration run to finish');
    await db.query('SELECT pg_advisory_lock($1)', [PRISMA_MIGRATE_LOCK_KEY]);
  }
  try {
    await db.exec(CREATE_MIGRATIONS_TABLE);
    const records = await db.query<MigrationRecord>(
      `SELECT id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at
         FROM _prisma_migrations ORDER BY started_at ASC`,
    );
    const active = records.filter((r) => r.rolled_back_at === null);
    refuseFailedMigrations(active);
    refuseModifiedMigrations(active, migrations);

    const appliedNames = new Set(active.map((r) => r.migration_name));
    const applied: string[] = [];
    for (const migration of migrations) {
      if (appliedNames.has(migration.name)) continue;
      await applyOne(db, migration);
      applied.push(migration.name);
      log(`applied ${migration.name}`);
    }
    return applied;
  } finally {
    // A failed unlock must not hide the real error; a closed session releases it anyway.
    await db.query('SELECT pg_advisory_unlock($1)', [PRISMA_MIGRATE_LOCK_KEY]).catch(() => []);
  }
}

async function readMigrations(migrationsDir: string): Promise<MigrationFile[]> {
  let entries;
  try {
    entries = await fs.readdir(migrationsDir, { withFileTypes: true });
  } catch (error) {
    throw new MigrationError(
      `cannot read migrations directory ${migrationsDir}: ${errorText(error)}`,
    );
  }
  await checkLockfileProvider(migrationsDir);
  const names = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return Promise.all(
    names.map(async (name) => {
      const file = path.join(migrationsDir, name, 'migration.sql');
      let bytes: Buffer;
      try {
        bytes = await fs.readFile(file);
      } catch (error) {
        throw new MigrationError(
          `migration ${name}: cannot read ${file}: ${errorText(error)}`,
          name,
        );
      }
      return { name, script: bytes.toString('utf8'), checksum: sha256Hex(bytes) };
    }),
  );
}

async function checkLockfileProvider(migrationsDir: string): Promise<void> {
  let lockfile: string;
  try {
    lockfile = await fs.readFile(path.join(migrationsDir, 'migration_lock.toml'), 'utf8');
  } catch {
    return;
  }
  const provider = /^\s*provider\s*=\s*"([^"]*)"/m.exec(lockfile)?.[1];
  if (provider !== undefined && provider !== 'postgresql') {
    throw new MigrationError(
      `migration_lock.toml is for provider "${provider}", these migrations need "postgresql"`,
    );
  }
}

function refuseFailedMigrations(active: MigrationRecord[]): void {
  const failed = active.filter((r) => r.finished_at === null);
  if (failed.length === 0) return;
  const details = failed
    .map((r) => {
      const logs = r.logs?.trim() ? `: ${r.logs.trim()}` : '';
      return `migration ${r.migration_name} started at ${r.started_at.toISOString()} failed${logs}`;
    })
    .join('\n');
  throw new MigrationError(
    `found failed migrations in the database, new migrations will not be applied. ${details}\n` +
      `Repair the database, then mark the migration rolled back (prisma migrate resolve ` +
      `--rolled-back <name>, or UPDATE _prisma_migrations SET rolled_back_at = now() WHERE ` +
      `migration_name = '<name>' AND finished_at IS NULL) to retry it, or resolve it as applied.`,
    failed[0].migration_name,
  );
}

function refuseModifiedMigrations(active: MigrationRecord[], migrations: MigrationFile[]): void {
  const byName = new Map(migrations.map((m) => [m.name, m]));
  for (const record of active) {
    const file = byName.get(record.migration_name);
    if (file && !scriptMatchesChecksum(file.script, record.checksum)) {
      throw new MigrationError(
        `migration ${record.migration_name} was modified after it was applied ` +
          `(checksum ${record.checksum} in _prisma_migrations, ${file.checksum} on disk); ` +
          `restore the applied file and put changes in a new migration`,
        record.migration_name,
      );
    }
  }
}

/**
 * Prisma accepts a checksum computed with either line ending (git may convert them) and
 * the unpadded hex of old engine versions (prisma-engines#1887).
 */
function scriptMatchesChecksum(script: string, checksum: string): boolean {
  const variants = [script, script.replace(/\r\n/g, '\n'), script.replace(/\n/g, '\r\n')];
  return variants.some((variant) => {
    const digest = createHash('sha256').update(variant, 'utf8').digest();
    const rendered =
      checksum.length !== 0 && checksum.length !== 64
        ? Array.from(digest, (byte) => byte.toString(16)).join('')
        : digest.toString('hex');
    return rendered === checksum;
  });
}

/**
 * Unlike Prisma, the script and its bookkeeping share one transaction, so a crash mid-way
 * leaves neither a half-applied schema nor a row that blocks the next run; the resulting
 * rows are the ones Prisma writes.
 */
async function applyOne(db: SqlExecutor, migration: MigrationFile): Promise<void> {
  const id = randomUUID();
  try {
    await db.exec('BEGIN');
    await db.query(
      `INSERT INTO _prisma_migrations (id, checksum, started_at, migration_name)
       VALUES ($1, $2, clock_timestamp(), $3)`,
      [id, migration.checksum, migration.name],
    );
    await db.exec(migration.script);
    await db.query(
      `UPDATE _prisma_migrations
          SET applied_steps_count = applied_steps_count + 1, finished_at = clock_timestamp()
        WHERE id = $1`,
      [id],
    );
    await db.exec('COMMIT');
  } catch (error) {
    await db.exec('ROLLBACK').catch(() => undefined);
    const logs = describeFailure(migration, error);
    const recorded = await db
      .query(
        `INSERT INTO _prisma_migrations (id, checksum, started_at, migration_name, logs)
         VALUES ($1, $2, clock_timestamp(), $3, $4)`,
        [id, migration.checksum, migration.name, logs],
      )
      .then(
        () => '',
        (recordError: unknown) => ` (could not record the failure: ${errorText(recordError)})`,
      );
    throw new MigrationError(
      `migration ${migration.name} failed to apply: ${firstLine(errorText(error))}${recorded}`,
      migration.name,
    );
  }
}

/** Same shape as Prisma's P3018 logs, so `prisma migrate status` output reads the same. */
function describeFailure(migration: MigrationFile, error: unknown): string {
  const code = stringField(error, 'code') ?? 'none';
  const position = Number(stringField(error, 'position'));
  let where = '';
  if (Number.isInteger(position) && position > 0) {
    const before = migration.script.slice(0, position - 1);
    const lineNumber = before.split('\n').length;
    const line = migration.script.split('\n')[lineNumber - 1] ?? '';
    where = `\n\nPosition:\n${String(lineNumber).padStart(3)} ${line}`;
  }
  return (
    'A migration failed to apply. New migrations cannot be applied before the error is ' +
    'recovered from. Read more about how to resolve migration issues in a production ' +
    `database: https://pris.ly/d/migrate-resolve\n\nMigration name: ${migration.name}\n\n` +
    `Database error code: ${code}\n\nDatabase error:\n${errorText(error)}${where}`
  );
}

function stringField(value: unknown, key: string): string | undefined {
  if (typeof value !== 'object' || value === null || !(key in value)) return undefined;
  const field: unknown = (value as Record<string, unknown>)[key];
  return typeof field === 'string' ? field : undefined;
}

/** Duck-typed: driver errors may come from another realm (PGlite's wasm glue, vm contexts). */
function errorText(error: unknown): string {
  return stringField(error, 'message') ?? String(error);
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0];
}

function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}
