import { readdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Client } from 'pg';
import {
  applyMigrations,
  MIGRATIONS_DIR,
  MigrationError,
  pgExecutor,
  pgliteExecutor,
  type SqlExecutor,
} from '../../src/database/migrator';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { PGLITE_EXTENSIONS } from '../../src/database/prisma-client.factory';

// Real PGlite, loaded outside Jest's module sandbox (see nativePGliteModule).
jest.mock('@electric-sql/pglite', () =>
  jest
    .requireActual<typeof import('../support/database')>('../support/database')
    .nativePGliteModule(),
);

const INIT = '20261123000000_init';
const ALL = readdirSync(MIGRATIONS_DIR, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

interface MigrationRow {
  id: string;
  checksum: string;
  finished_at: Date | null;
  migration_name: string;
  logs: string | null;
  rolled_back_at: Date | null;
  started_at: Date;
  applied_steps_count: number;
}

const databases: TestDatabase[] = [];
const tempDirs: string[] = [];

async function freshDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  databases.push(db);
  return db;
}

async function withExecutor<T>(url: string, run: (db: SqlExecutor) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await run(pgExecutor(client));
  } finally {
    await client.end();
  }
}

function migrateOnce(
  url: string,
  dir = MIGRATIONS_DIR,
  log?: (l: string) => void,
): Promise<string[]> {
  return withExecutor(url, (db) => applyMigrations(db, dir, log));
}

function migrationRows(db: SqlExecutor): Promise<MigrationRow[]> {
  return db.query<MigrationRow & Record<string, unknown>>(
    'SELECT * FROM _prisma_migrations ORDER BY started_at, migration_name',
  );
}

/** A copy of the real migrations plus extra `name -> sql` migrations. */
async function migrationsDirWith(extra: Record<string, string>, transform = (s: string) => s) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'conveyor-migrations-'));
  tempDirs.push(dir);
  await fs.cp(MIGRATIONS_DIR, dir, { recursive: true });
  const initFile = path.join(dir, INIT, 'migration.sql');
  await fs.writeFile(initFile, transform(await fs.readFile(initFile, 'utf8')));
  for (const [name, sql] of Object.entries(extra)) {
    await fs.mkdir(path.join(dir, name));
    await fs.writeFile(path.join(dir, name, 'migration.sql'), sql);
  }
  return dir;
}

async function sha256OfFile(file: string): Promise<string> {
  return createHash('sha256')
    .update(await fs.readFile(file))
    .digest('hex');
}

afterAll(async () => {
  await Promise.all(databases.map((db) => db.drop()));
  await Promise.all(tempDirs.map((dir) => fs.rm(dir, { recursive: true, force: true })));
});

describe('applyMigrations on PostgreSQL', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await freshDatabase();
  });

  it('applies every migration to a fresh database, logging each', async () => {
    const lines: string[] = [];
    await expect(migrateOnce(db.url, MIGRATIONS_DIR, (l) => lines.push(l))).resolves.toEqual(ALL);
    expect(lines).toEqual(ALL.map((name) => `applied ${name}`));
    const tables = await withExecutor(db.url, (x) =>
      x.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables
          WHERE table_schema = current_schema() ORDER BY table_name`,
      ),
    );
    expect(tables.map((t) => t.table_name)).toEqual([
      'ChunkEmbedding',
      'IndexChunk',
      'IndexTerm',
      'IndexedFile',
      'Job',
      'JobEvent',
      'JobLog',
      'Project',
      'ProjectIndex',
      'TokenUsage',
      '_prisma_migrations',
    ]);
  });

  it('leaves the group-commit write function as the only job write function', async () => {
    const functions = await withExecutor(db.url, (x) =>
      x.query<{ proname: string }>(
        `SELECT proname FROM pg_proc
          WHERE pronamespace = current_schema()::regnamespace AND proname LIKE 'conveyor_%'
          ORDER BY proname`,
      ),
    );
    expect(functions.map((f) => f.proname)).toEqual(['conveyor_write_jobs']);
  });

  it('applies nothing the second time', async () => {
    await expect(migrateOnce(db.url)).resolves.toEqual([]);
  });

  it('records rows exactly like prisma migrate deploy', async () => {
    const rows = await withExecutor(db.url, migrationRows);
    expect(rows.map((r) => r.migration_name)).toEqual(ALL);
    const [row] = rows;
    expect(row).toEqual({
      id: expect.stringMatching(
        /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      ),
      checksum: await sha256OfFile(path.join(MIGRATIONS_DIR, INIT, 'migration.sql')),
      finished_at: expect.any(Date),
      migration_name: INIT,
      logs: null,
      rolled_back_at: null,
      started_at: expect.any(Date),
      applied_steps_count: 1,
    });
    expect(row.finished_at!.getTime()).toBeGreaterThanOrEqual(row.started_at.getTime());

    const columns = await withExecutor(db.url, (x) =>
      x.query(
        `SELECT column_name, data_type, character_maximum_length, is_nullable, column_default
           FROM information_schema.columns
          WHERE table_schema = current_schema() AND table_name = '_prisma_migrations'
          ORDER BY ordinal_position`,
      ),
    );
    expect(columns).toEqual([
      col('id', 'character varying', 36, 'NO', null),
      col('checksum', 'character varying', 64, 'NO', null),
      col('finished_at', 'timestamp with time zone', null, 'YES', null),
      col('migration_name', 'character varying', 255, 'NO', null),
      col('logs', 'text', null, 'YES', null),
      col('rolled_back_at', 'timestamp with time zone', null, 'YES', null),
      col('started_at', 'timestamp with time zone', null, 'NO', 'now()'),
      col('applied_steps_count', 'integer', null, 'NO', '0'),
    ]);
  });

  it('accepts the applied file with other line endings, as Prisma does', async () => {
    const dir = await migrationsDirWith({}, (sql) => sql.replace(/\n/g, '\r\n'));
    await expect(migrateOnce(db.url, dir)).resolves.toEqual([]);
  });

  it('refuses to run when an applied migration was modified', async () => {
    const dir = await migrationsDirWith({}, (sql) => `${sql}\n-- edited after deploy\n`);
    const run = migrateOnce(db.url, dir);
    await expect(run).rejects.toThrow(MigrationError);
    await expect(run).rejects.toThrow(new RegExp(`migration ${INIT} was modified`));
  });

  it('records a failed migration, rolls back its changes and blocks later runs', async () => {
    const broken = '20261124000000_broken';
    const dir = await migrationsDirWith({
      [broken]: 'CREATE TABLE "Partial" ("id" INTEGER);\n\nSELECT * FROM "no_such_table";\n',
    });

    const first = migrateOnce(db.url, dir);
    await expect(first).rejects.toThrow(
      `migration ${broken} failed to apply: relation "no_such_table" does not exist`,
    );
    await expect(first).rejects.toMatchObject({ migrationName: broken });

    const rows = await withExecutor(db.url, migrationRows);
    const failed = rows.find((r) => r.migration_name === broken);
    expect(failed).toMatchObject({
      finished_at: null,
      rolled_back_at: null,
      applied_steps_count: 0,
    });
    expect(failed?.logs).toContain(`Migration name: ${broken}`);
    expect(failed?.logs).toContain('Database error code: 42P01');
    expect(failed?.logs).toContain('relation "no_such_table" does not exist');
    expect(failed?.logs).toContain('  3 SELECT * FROM "no_such_table";');
    const partial = await withExecutor(db.url, (x) =>
      x.query(`SELECT to_regclass('"Partial"') AS t`),
    );
    expect(partial).toEqual([{ t: null }]);

    await fs.writeFile(
      path.join(dir, broken, 'migration.sql'),
      'CREATE TABLE "Fixed" ("id" INTEGER);\n',
    );
    const second = migrateOnce(db.url, dir);
    await expect(second).rejects.toThrow(/found failed migrations/);
    await expect(second).rejects.toThrow(new RegExp(`migration ${broken} started at .* failed`));
    await expect(migrateOnce(db.url)).rejects.toThrow(/found failed migrations/);

    // What `prisma migrate resolve --rolled-back` does; then the fixed file applies.
    await withExecutor(db.url, (x) =>
      x.query(`UPDATE _prisma_migrations SET rolled_back_at = now() WHERE migration_name = $1`, [
        broken,
      ]),
    );
    await expect(migrateOnce(db.url, dir)).resolves.toEqual([broken]);
    const after = await withExecutor(db.url, migrationRows);
    expect(after.filter((r) => r.migration_name === broken)).toEqual([
      expect.objectContaining({ rolled_back_at: expect.any(Date), finished_at: null }),
      expect.objectContaining({ rolled_back_at: null, finished_at: expect.any(Date) }),
    ]);
  });

  it('names the missing directory', async () => {
    await expect(migrateOnce(db.url, path.join(os.tmpdir(), 'no-such-migrations'))).rejects.toThrow(
      /cannot read migrations directory .*no-such-migrations/,
    );
  });
});

describe('concurrent runners on one PostgreSQL database', () => {
  it('apply each migration exactly once', async () => {
    const db = await freshDatabase();
    // Named to sort after every real migration.
    const slow = '99991231000000_slow';
    const dir = await migrationsDirWith({
      [slow]: 'SELECT pg_sleep(0.3);\nCREATE TABLE "Slow" ("id" INTEGER);\n',
    });

    const results = await Promise.all(Array.from({ length: 4 }, () => migrateOnce(db.url, dir)));

    expect(results.flat().sort()).toEqual([...ALL, slow]);
    const rows = await withExecutor(db.url, migrationRows);
    expect(
      rows.map((r) => [r.migration_name, r.applied_steps_count, r.finished_at !== null]),
    ).toEqual([...ALL.map((name) => [name, 1, true]), [slow, 1, true]]);
  });
});

describe('applyMigrations on PGlite', () => {
  let pglite: PGlite;

  beforeAll(async () => {
    pglite = await PGlite.create({ extensions: PGLITE_EXTENSIONS });
  });

  afterAll(async () => {
    await pglite.close();
  });

  it('applies, records like Prisma, then has nothing left to do', async () => {
    const db = pgliteExecutor(pglite);
    await expect(applyMigrations(db, MIGRATIONS_DIR)).resolves.toEqual(ALL);
    await expect(applyMigrations(db, MIGRATIONS_DIR)).resolves.toEqual([]);
    const rows = await migrationRows(db);
    const checksums = await Promise.all(
      ALL.map((name) => sha256OfFile(path.join(MIGRATIONS_DIR, name, 'migration.sql'))),
    );
    expect(rows).toEqual(
      ALL.map((name, index) =>
        expect.objectContaining({
          migration_name: name,
          checksum: checksums[index],
          applied_steps_count: 1,
          finished_at: aDate,
          rolled_back_at: null,
          logs: null,
        }),
      ),
    );
  });

  it('refuses a modified migration and records a failed one', async () => {
    const db = pgliteExecutor(pglite);
    const edited = await migrationsDirWith({}, (sql) => `${sql}-- edited\n`);
    await expect(applyMigrations(db, edited)).rejects.toThrow(`migration ${INIT} was modified`);

    const broken = '20261124000000_broken';
    const dir = await migrationsDirWith({ [broken]: 'SELECT * FROM "no_such_table";\n' });
    await expect(applyMigrations(db, dir)).rejects.toThrow(
      `migration ${broken} failed to apply: relation "no_such_table" does not exist`,
    );
    await expect(applyMigrations(db, dir)).rejects.toThrow(/found failed migrations/);
  });
});

/** Realm-independent: rows from the natively loaded PGlite carry that realm's Date. */
const aDate = {
  asymmetricMatch: (value: unknown) => Object.prototype.toString.call(value) === '[object Date]',
  toAsymmetricMatcher: () => 'aDate',
};

function col(
  column_name: string,
  data_type: string,
  character_maximum_length: number | null,
  is_nullable: 'YES' | 'NO',
  column_default: string | null,
) {
  return { column_name, data_type, character_maximum_length, is_nullable, column_default };
}
