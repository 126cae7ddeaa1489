import { randomBytes } from 'node:crypto';
import { runInThisContext } from 'node:vm';
import { Client } from 'pg';

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

const DEFAULT_BASE_URL = 'postgresql://postgres@127.0.0.1:5432';

function urlFor(database: string): string {
  const url = new URL(process.env.TEST_DATABASE_BASE_URL ?? DEFAULT_BASE_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

async function withAdminClient(run: (client: Client) => Promise<unknown>): Promise<void> {
  const client = new Client({ connectionString: urlFor('postgres') });
  await client.connect();
  try {
    await run(client);
  } finally {
    await client.end();
  }
}

/** A fresh, uniquely named database on the test server; drop() removes it even if in use. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `conveyor_t_${randomBytes(8).toString('hex')}`;
  await withAdminClient((client) => client.query(`CREATE DATABASE "${name}"`));
  let dropped = false;
  return {
    url: urlFor(name),
    name,
    async drop() {
      if (dropped) return;
      dropped = true;
      await withAdminClient((client) =>
        client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
      );
    },
  };
}

/**
 * The real `@electric-sql/pglite`, loaded by Node's own loader instead of Jest's sandbox: its
 * CommonJS build import()s Node built-ins, which Jest refuses without
 * --experimental-vm-modules. Use it as the module factory of
 * `jest.mock('@electric-sql/pglite', ...)`. Its Dates and Errors belong to Node's main realm,
 * so compare them by value, not with `instanceof`/`expect.any(Date)`.
 */
export function nativePGliteModule(): typeof import('@electric-sql/pglite') {
  const main = runInThisContext('process.mainModule') as NodeJS.Module | undefined;
  if (!main) throw new Error('no CommonJS main module to load PGlite from');
  return main.require(
    require.resolve('@electric-sql/pglite'),
  ) as typeof import('@electric-sql/pglite');
}

/**
 * Deletes every stored event of one user, the newest included: a user idle past the retention
 * (which keeps only each user's newest) whose client holds an id older than what is left.
 */
export async function dropUserEvents(url: string, userId: string): Promise<number> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const deleted = await client.query('DELETE FROM "JobEvent" WHERE "userId" = $1', [userId]);
    return deleted.rowCount ?? 0;
  } finally {
    await client.end();
  }
}
