import type { SqlExecutor } from './migrator';

export const PRISMA = Symbol('PRISMA');
/** Plain SQL on the same pool as Prisma, for the hot paths where Prisma's per-call cost shows. */
export const SQL = Symbol('SQL');

/** One parameterised statement; its rows as the driver types them (pg and PGlite alike). */
export type SqlQuery = SqlExecutor['query'];
