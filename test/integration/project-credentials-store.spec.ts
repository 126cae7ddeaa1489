import { randomBytes, randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseSecretsConfig, secretKeyId } from '../../src/config/secrets.config';
import { MIGRATIONS_DIR } from '../../src/database/migrator';
import { openDatabase, type OpenedDatabase } from '../../src/database/prisma-client.factory';
import { ProjectCredentialsService } from '../../src/projects/project-credentials.service';
import { ProjectRepository } from '../../src/projects/project.repository';
import { createTestDatabase } from '../support/database';

// Real PGlite, loaded outside Jest's module sandbox (see nativePGliteModule).
jest.mock('@electric-sql/pglite', () =>
  jest
    .requireActual<typeof import('../support/database')>('../support/database')
    .nativePGliteModule(),
);

interface Backend {
  name: string;
  open(): Promise<OpenedDatabase>;
  cleanup(): Promise<void>;
}

const postgres = (): Backend => {
  let drop: (() => Promise<void>) | undefined;
  return {
    name: 'PostgreSQL',
    async open() {
      const db = await createTestDatabase();
      drop = () => db.drop();
      return openDatabase({
        databaseUrl: db.url,
        dataDir: '',
        migrationsDir: MIGRATIONS_DIR,
        migrate: true,
      });
    },
    cleanup: async () => drop?.(),
  };
};

const pglite = (): Backend => {
  const dataDir = path.join(os.tmpdir(), `conveyor-pglite-${randomUUID()}`, 'pglite');
  return {
    name: 'PGlite',
    open: () => openDatabase({ dataDir, migrationsDir: MIGRATIONS_DIR, migrate: true }),
    cleanup: () => fs.rm(path.dirname(dataDir), { recursive: true, force: true }),
  };
};

const hexKey = () => randomBytes(32).toString('hex');

/** A project's GitHub token at rest (docs/credentials.md), on both databases. */
describe.each([postgres(), pglite()])('project credentials stored on $name', (backend) => {
  let opened: OpenedDatabase;
  let projects: ProjectRepository;

  beforeAll(async () => {
    opened = await backend.open();
    projects = new ProjectRepository(opened.prisma);
  });

  afterAll(async () => {
    await opened?.close();
    await backend.cleanup();
  });

  async function project(): Promise<string> {
    const id = randomUUID();
    await projects.create({
      id,
      ownerId: 'alice',
      name: 'widgets',
      repoUrl: null,
      defaultBranch: 'main',
      workspacePath: `/tmp/${id}`,
      status: 'ready',
    });
    return id;
  }

  it('stores only ciphertext, opens it again, re-seals it under a new key and removes it', async () => {
    const token = `ghp_${randomBytes(16).toString('hex')}`;
    const [a, b] = [hexKey(), hexKey()];
    const underA = new ProjectCredentialsService({
      secrets: parseSecretsConfig({ SECRETS_KEY: a }),
    });
    const id = await project();
    await projects.setGithubToken(id, underA.seal(id, token));

    const rows = await opened.query('SELECT * FROM "Project" WHERE id = $1', [id]);
    expect(JSON.stringify(rows)).not.toContain(token);
    const stored = (await projects.findById(id))!;
    expect(stored.githubTokenSecret).not.toBeNull();
    expect(underA.githubToken(stored)).toBe(token);

    const rotating = new ProjectCredentialsService({
      secrets: parseSecretsConfig({ SECRETS_KEY: b, SECRETS_KEY_PREVIOUS: a }),
    });
    const underB = new ProjectCredentialsService({
      secrets: parseSecretsConfig({ SECRETS_KEY: b }),
    });
    const old = await projects.githubTokensNotUnder(secretKeyId(Buffer.from(b, 'hex')));
    expect(old.map((entry) => entry.projectId)).toContain(id);
    for (const entry of old) {
      expect(await projects.resealGithubToken(entry, rotating.reseal(entry))).toBe(true);
    }
    const resealed = (await projects.findById(id))!;
    expect(resealed.githubTokenKeyId).toBe(secretKeyId(Buffer.from(b, 'hex')));
    expect(underB.githubToken(resealed)).toBe(token);
    expect(() => underA.githubToken(resealed)).toThrow();

    await projects.setGithubToken(id, null);
    expect(underB.githubToken((await projects.findById(id))!)).toBeUndefined();
  });
});
