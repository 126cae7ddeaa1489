import { execFile } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config';

export class GitError extends Error {
  override readonly name = 'GitError';
}

/**
 * Git must never prompt: no terminal, no askpass, ssh in batch mode, no credential helper, and
 * only the transports Conveyor accepts.
 */
function gitEnv(config: AppConfig): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: join(config.workspacesDir, '.home'),
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: 'true',
    SSH_ASKPASS: 'true',
    GIT_SSH_COMMAND:
      'ssh -o BatchMode=yes -o ConnectTimeout=15 -o StrictHostKeyChecking=accept-new',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_ALLOW_PROTOCOL: config.allowLocalRepos ? 'https:ssh:file' : 'https:ssh',
    LANG: 'C',
  };
}

/** git's generic advice after a failed ssh transport, which would push the cause out of view. */
const ADVICE =
  /^(Please make sure you have the correct access rights|and the repository exists\.)$/;

/** The last lines of git's stderr that say what went wrong. */
function stderrReason(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !ADVICE.test(line));
  return lines.slice(-3).join(' ');
}

/** The on-disk git workspaces of projects, one directory each under WORKSPACES_DIR. */
@Injectable()
export class WorkspaceService {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  pathFor(projectId: string): string {
    return join(this.config.workspacesDir, projectId);
  }

  async init(path: string, branch: string): Promise<void> {
    await mkdir(path, { recursive: true });
    await this.git(['init', '--quiet', '--initial-branch', branch, path]);
  }

  /** Clones into path; returns the branch checked out. */
  async clone(url: string, path: string, branch: string | undefined): Promise<string> {
    await mkdir(this.config.workspacesDir, { recursive: true });
    const branchArgs = branch ? ['--branch', branch] : [];
    await this.git([
      '-c',
      'credential.helper=',
      'clone',
      '--quiet',
      ...branchArgs,
      '--',
      url,
      path,
    ]);
    return (await this.git(['-C', path, 'symbolic-ref', '--short', 'HEAD'])).trim();
  }

  async remove(path: string): Promise<void> {
    await rm(path, { recursive: true, force: true });
  }

  private git(args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(
        'git',
        args,
        {
          env: gitEnv(this.config),
          timeout: this.config.cloneTimeoutMs,
          killSignal: 'SIGKILL',
          maxBuffer: 1024 * 1024,
        },
        (error, stdout, stderr) => {
          if (!error) return resolve(stdout);
          const reason = error.killed
            ? `git timed out after ${this.config.cloneTimeoutMs} ms`
            : stderrReason(stderr) || error.message;
          reject(new GitError(reason));
        },
      );
    });
  }
}
