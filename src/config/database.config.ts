import { isAbsolute, resolve } from 'node:path';
import { raw, url, type Env } from './env-readers';

export interface DatabaseConfig {
  /** PostgreSQL; undefined: the embedded PGlite database under `dataDir`. */
  databaseUrl: string | undefined;
  /** Absolute. */
  dataDir: string;
}

/** DATABASE_URL and DATA_DIR: read by the server and by `npm run db:migrate` alike. */
export function parseDatabaseConfig(env: Env, cwd: string): DatabaseConfig {
  const dataDir = raw(env, 'DATA_DIR') ?? '.data';
  return {
    databaseUrl: url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']),
    dataDir: isAbsolute(dataDir) ? dataDir : resolve(cwd, dataDir),
  };
}

/** Where the embedded PGlite database lives. */
export function pgliteDir(config: { dataDir: string }): string {
  return resolve(config.dataDir, 'pglite');
}
