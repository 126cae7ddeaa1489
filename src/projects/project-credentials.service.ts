import { Inject, Injectable } from '@nestjs/common';
import { SecretBox, type SealedSecret } from '../common/secret-box';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import type { Project } from '../generated/prisma/client';
import type { StoredGithubToken } from './project.repository';

/** What the sealed token of a project is bound to: it opens on that project's row only. */
function githubTokenContext(projectId: string): string {
  return `project:${projectId}:githubToken`;
}

/**
 * A project's own GitHub token (docs/credentials.md): sealed with SECRETS_KEY before it is
 * stored, opened only where git or GitHub's API needs it.
 */
@Injectable()
export class ProjectCredentialsService {
  private readonly box: SecretBox;

  constructor(@Inject(APP_CONFIG) config: Pick<AppConfig, 'secrets'>) {
    this.box = new SecretBox(config.secrets);
  }

  get canStore(): boolean {
    return this.box.canSeal;
  }

  seal(projectId: string, githubToken: string): SealedSecret {
    return this.box.seal(githubToken, githubTokenContext(projectId));
  }

  /** The project's token; undefined when it has none. Throws SecretUnreadableError. */
  githubToken(project: Project): string | undefined {
    const { githubTokenSecret: secret, githubTokenKeyId: keyId } = project;
    if (secret === null || keyId === null) return undefined;
    return this.box.open({ secret, keyId }, githubTokenContext(project.id));
  }

  /** The stored token sealed again with the current SECRETS_KEY (a rotation). */
  reseal(stored: StoredGithubToken): SealedSecret {
    const context = githubTokenContext(stored.projectId);
    return this.box.seal(this.box.open(stored, context), context);
  }
}
