import { messageOf } from '../common/errors';
import { SecretUnreadableError } from '../common/secret-box';
import type { AppConfig } from '../config/app-config';
import { parseDatabaseConfig, pgliteDir } from '../config/database.config';
import { parseSecretsConfig } from '../config/secrets.config';
import { MIGRATIONS_DIR } from '../database/migrator';
import { openDatabase } from '../database/prisma-client.factory';
import { ProjectCredentialsService } from '../projects/project-credentials.service';
import { ProjectRepository } from '../projects/project.repository';

export interface RotationReport {
  keyId: string;
  resealed: number;
  /** Projects whose credential no configured key opens (left as they are). */
  unreadable: string[];
}

/**
 * Seals every stored credential not sealed under SECRETS_KEY again with it; SECRETS_KEY_PREVIOUS
 * opens the old ones (docs/credentials.md). Safe to run while servers run, and to run again.
 */
export async function rotateSecrets(
  config: Pick<AppConfig, 'secrets'>,
  projects: ProjectRepository,
  print: (line: string) => void,
): Promise<RotationReport> {
  const keyId = config.secrets.current?.id;
  if (keyId === undefined) throw new Error('SECRETS_KEY is not set: there is no key to rotate to');
  const credentials = new ProjectCredentialsService(config);
  const report: RotationReport = { keyId, resealed: 0, unreadable: [] };
  for (const stored of await projects.githubTokensNotUnder(keyId)) {
    let sealed;
    try {
      sealed = credentials.reseal(stored);
    } catch (error) {
      if (!(error instanceof SecretUnreadableError)) throw error;
      print(`project ${stored.projectId}: ${error.message}`);
      report.unreadable.push(stored.projectId);
      continue;
    }
    if (await projects.resealGithubToken(stored, sealed)) report.resealed += 1;
  }
  print(`${report.resealed} credential(s) sealed again under key id ${keyId}`);
  return report;
}

async function main(): Promise<void> {
  try {
    const env = process.env;
    const database = parseDatabaseConfig(env, process.cwd());
    const config = { secrets: parseSecretsConfig(env) };
    const db = await openDatabase({
      databaseUrl: database.databaseUrl,
      dataDir: pgliteDir(database),
      migrationsDir: MIGRATIONS_DIR,
      migrate: false,
    });
    try {
      const report = await rotateSecrets(config, new ProjectRepository(db.prisma), (line) =>
        console.log(line),
      );
      if (report.unreadable.length > 0) process.exitCode = 1;
    } finally {
      await db.close();
    }
  } catch (error) {
    console.error(`secrets:rotate failed: ${messageOf(error).replace(/\s*\n\s*/g, ' ')}`);
    process.exitCode = 1;
  }
}

if (require.main === module) void main();
