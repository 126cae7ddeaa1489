import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config';

export class GitError extends Error {
  override readonly name = 'GitError';
  constructor(
    message: string,
    /** git's exit code; null when it did not exit by itself (timeout, abort, spawn failure). */
    readonly exitCode: number | null,
  ) {
    super(message);
  }
}

export interface GitRunOptions {
  /** Working directory (most callers pass `-C <dir>` instead). */
  cwd?: string;
  /** Default GIT_CLONE_TIMEOUT_MS: the bound of every network operation. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /**
   * Configuration for this one command, handed over in GIT_CONFIG_COUNT/KEY_n/VALUE_n of its
   * environment: not in argv (which every local user can read in /proc), not in any file.
   */
  config?: Record<string, string>;
  /** Extra environment (the commit's author). */
  env?: Record<string, string>;
  /** Exit codes that are answers, not failures (`diff --quiet` exits 1 for "differs"). */
  okExitCodes?: number[];
  /** Texts replaced by *** in an error message, whatever git printed. */
  redact?: string[];
}

export interface GitOutput {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** git's generic advice after a failed ssh transport, which would push the cause out of view. */
const ADVICE =
  /^(Please make sure you have the correct access rights|and the repository exists\.|hint: .*)$/;

/** The last lines of git's stderr that say what went wrong. */
export function stderrReason(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !ADVICE.test(line));
  return lines.slice(-3).join(' ');
}

/**
 * A GitHub token as GitHub takes it over HTTPS (Basic, user x-access-token), as an extra header
 * for this repository's URL only, for GitRunOptions.config: in the environment of the one git
 * command that needs it, never in argv or .git/config. An ssh URL gets none (the worker's own
 * ssh keys apply).
 */
export function githubAuthConfig(repoUrl: string, token: string): Record<string, string> {
  if (!/^https?:\/\//.test(repoUrl)) return {};
  const basic = Buffer.from(`x-access-token:${token}`).toString('base64');
  return { [`http.${repoUrl}.extraHeader`]: `Authorization: Basic ${basic}` };
}

function redact(text: string, secrets: readonly string[]): string {
  return secrets.filter((s) => s !== '').reduce((out, s) => out.split(s).join('***'), text);
}

/**
 * The one way Conveyor runs git: the CLI without a shell, with a clean environment, never a
 * prompt. Cloning (WorkspaceService) and pr-creation both go through it.
 */
@Injectable()
export class GitCli {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  /**
   * No terminal, no askpass, ssh in batch mode, no system config and no credential helper, and
   * only the transports Conveyor accepts. HOME is Conveyor's own (an operator's ~/.gitconfig
   * there can name a CA, say).
   */
  private baseEnv(): NodeJS.ProcessEnv {
    const local = this.config.allowLocalRepos;
    return {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: join(this.config.workspacesDir, '.home'),
      GIT_TERMINAL_PROMPT: '0',
      GIT_ASKPASS: 'true',
      SSH_ASKPASS: 'true',
      GIT_SSH_COMMAND:
        'ssh -o BatchMode=yes -o ConnectTimeout=15 -o StrictHostKeyChecking=accept-new',
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_ALLOW_PROTOCOL: local ? 'https:ssh:file:http' : 'https:ssh',
      LANG: 'C',
    };
  }

  run(args: string[], options: GitRunOptions = {}): Promise<GitOutput> {
    const timeoutMs = options.timeoutMs ?? this.config.cloneTimeoutMs;
    const config = Object.entries(options.config ?? {});
    const env: NodeJS.ProcessEnv = { ...this.baseEnv(), ...options.env };
    if (config.length > 0) {
      env.GIT_CONFIG_COUNT = String(config.length);
      config.forEach(([key, value], index) => {
        env[`GIT_CONFIG_KEY_${index}`] = key;
        env[`GIT_CONFIG_VALUE_${index}`] = value;
      });
    }
    const secrets = [...(options.redact ?? []), ...config.map(([, value]) => value)];
    return new Promise((resolve, reject) => {
      execFile(
        'git',
        args,
        {
          cwd: options.cwd,
          env,
          timeout: timeoutMs,
          killSignal: 'SIGKILL',
          maxBuffer: 16 * 1024 * 1024,
          signal: options.signal,
        },
        (error, stdout, stderr) => {
          const code = error ? (error as { code?: unknown }).code : 0;
          if (!error || (typeof code === 'number' && options.okExitCodes?.includes(code))) {
            return resolve({ stdout, stderr, exitCode: typeof code === 'number' ? code : 0 });
          }
          let reason: string;
          if (options.signal?.aborted) reason = 'git was aborted';
          else if (error.killed) reason = `git timed out after ${timeoutMs} ms`;
          else reason = stderrReason(stderr) || error.message;
          reject(new GitError(redact(reason, secrets), typeof code === 'number' ? code : null));
        },
      );
    });
  }

  /** git's stdout, for commands whose failure is an error. */
  async output(args: string[], options: GitRunOptions = {}): Promise<string> {
    return (await this.run(args, options)).stdout;
  }
}
