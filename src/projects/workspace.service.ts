import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { GitCli, githubAuthConfig } from './git-cli';

/** The on-disk git workspaces of projects, one directory each under WORKSPACES_DIR. */
@Injectable()
export class WorkspaceService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly gitCli: GitCli,
  ) {}

  pathFor(projectId: string): string {
    return join(this.config.workspacesDir, projectId);
  }

  async init(path: string, branch: string): Promise<void> {
    await mkdir(path, { recursive: true });
    await this.git(['init', '--quiet', '--initial-branch', branch, path]);
  }

  /** Clones into path, with the project's GitHub token if it has one; returns the branch. */
  async clone(
    url: string,
    path: string,
    branch: string | undefined,
    githubToken?: string,
  ): Promise<string> {
    await mkdir(this.config.workspacesDir, { recursive: true });
    const branchArgs = branch ? ['--branch', branch] : [];
    const auth = githubToken === undefined ? {} : githubAuthConfig(url, githubToken);
    await this.gitCli.output(
      ['-c', 'credential.helper=', 'clone', '--quiet', ...branchArgs, '--', url, path],
      { config: auth, redact: githubToken === undefined ? [] : [githubToken] },
    );
    return (await this.git(['-C', path, 'symbolic-ref', '--short', 'HEAD'])).trim();
  }

  async remove(path: string): Promise<void> {
    await rm(path, { recursive: true, force: true });
  }

  private git(args: string[]): Promise<string> {
    return this.gitCli.output(args);
  }
}
