import { mkdirSync } from 'node:fs';
import { PGlite, type Extension } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import { Client, Pool } from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { PrismaClient } from '../generated/prisma/client';
import type { SqlQuery } from './database.tokens';
import { applyMigrations, pgExecutor, pgliteExecutor } from './migrator';

// Subpath export that this project's moduleResolution cannot type (it resolves at run time).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { pg_trgm } = require('@electric-sql/pglite/contrib/pg_trgm') as { pg_trgm: Extension };

/** Extensions the migrations need on PGlite (pg_trgm: the code index's partial-name search). */
export const PGLITE_EXTENSIONS = { pg_trgm };

export interface OpenDatabaseOptions {
  /** PostgreSQL URL; without it an embedded PGlite database under `dataDir` is used. */
  databaseUrl?: string;
  /** PGlite data directory (created if missing); `memory://` keeps it in memory. */
  dataDir: string;
  migrationsDir: string;
  migrate: boolean;
  log?: (line: string) => void;
  /** Connections in the PostgreSQL pool. */
  poolSize?: number;
}

export interface OpenedDatabase {
  prisma: PrismaClient;
  /** Plain SQL over Prisma's own connections (the pool, or the one PGlite session). */
  query: SqlQuery;
  kind: 'postgres' | 'pglite';
  close(): Promise<void>;
}

export const DEFAULT_POOL_SIZE = 10;

export async function openDatabase(opts: OpenDatabaseOptions): Promise<OpenedDatabase> {
  return opts.databaseUrl ? openPostgres(opts, opts.databaseUrl) : openPglite(opts);
}

async function openPostgres(
  opts: OpenDatabaseOptions,
  connectionString: string,
): Promise<OpenedDatabase> {
  const log = opts.log ?? (() => undefined);
  if (opts.migrate) {
    // A dedicated session: the advisory lock and BEGIN/COMMIT must stay on one connection.
    const client = new Client({ connectionString });
    client.on('error', (error) => log(`migration connection error: ${error.message}`));
    await client.connect();
    try {
      await applyMigrations(pgExecutor(client), opts.migrationsDir, log);
    } finally {
      await client.end();
    }
  }
  const pool = new Pool({ connectionString, max: opts.poolSize ?? DEFAULT_POOL_SIZE });
  // Without a listener an idle pooled connection dropped by the server crashes the process.
  pool.on('error', (error) => log(`postgres pool error: ${error.message}`));
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  const close = async () => {
    await prisma.$disconnect();
    await pool.end();
  };
  try {
    await prisma.$connect();
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
  return { prisma, query: pgExecutor(pool).query, kind: 'postgres', close };
}

async function openPglite(opts: OpenDatabaseOptions): Promise<OpenedDatabase> {
  if (!opts.dataDir.startsWith('memory://')) mkdirSync(opts.dataDir, { recursive: true });
  const db = await PGlite.create(opts.dataDir, { extensions: PGLITE_EXTENSIONS });
  try {
    if (opts.migrate) await applyMigrations(pgliteExecutor(db), opts.migrationsDir, opts.log);
    const prisma = new PrismaClient({ adapter: new PrismaPGlite(db) });
    await prisma.$connect();
    return {
      prisma,
      query: pgliteExecutor(db).query,
      kind: 'pglite',
      close: async () => {
        await prisma.$disconnect();
        await db.close();
      },
    };
  } catch (error) {
    await db.close().catch(() => undefined);
    throw error;
  }
}
