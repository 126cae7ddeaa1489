import { randomBytes, randomUUID } from 'node:crypto';
import { parseSecretsConfig, secretKeyId } from '../../src/config/secrets.config';
import type { OpenedDatabase } from '../../src/database/prisma-client.factory';
import { ProjectCredentialsService } from '../../src/projects/project-credentials.service';
import { ProjectRepository } from '../../src/projects/project.repository';

import { pgliteBackend, postgresBackend } from '../support/database-backends';

// Real PGlite, loaded outside Jest's module sandbox (see nativePGliteModule).
jest.mock('@electric-sql/pglite', () =>
  jest
    .requireActual<typeof import('../support/database')>('../support/database')
    .nativePGliteModule(),
);

const hexKey = () => randomBytes(32).toString('hex');

/** A project's GitHub token at rest (docs/credentials.md), on both databases. */
describe.each([postgresBackend(), pgliteBackend()])(
  'project credentials stored on $name',
  (backend) => {
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
  },
);
