import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { Inject, Injectable } from '@nestjs/common';
import { SecretUnreadableError } from '../../common/secret-box';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { JobCancelledError, NonRetryableJobError } from '../../core/job.errors';
import type { JobContext, JobProcessor } from '../../core/job.types';
import type { Project } from '../../generated/prisma/client';
import {
  GitCli,
  GitError,
  githubAuthConfig,
  type GitOutput,
  type GitRunOptions,
} from '../../projects/git-cli';
import { checkBranchName } from '../../projects/git-ref';
import { ProjectCredentialsService } from '../../projects/project-credentials.service';
import { ProjectRepository } from '../../projects/project.repository';
import { ownerAndRepo, repoUrlProblem } from '../../projects/repo-url';
import type { PrCreationParams } from './pr-creation.params';
import type { PrCreationResult } from './pr-creation.result';
import type { PullRequestHost } from './pull-request-host';
import { PullRequestHostFactory } from './pull-request-host.factory';

/** Operations that leave a workspace half-way; committing on top of one would be wrong. */
const IN_PROGRESS: [string, string][] = [
  ['MERGE_HEAD', 'a merge'],
  ['rebase-merge', 'a rebase'],
  ['rebase-apply', 'a rebase or git am'],
  ['CHERRY_PICK_HEAD', 'a cherry-pick'],
  ['REVERT_HEAD', 'a revert'],
  ['BISECT_LOG', 'a bisect'],
];

/** Hooks of the workspace never run: its content is not trusted to execute on the worker. */
const NO_HOOKS = ['-c', 'core.hooksPath=/dev/null'];

type Git = (args: string[], options?: GitRunOptions) => Promise<GitOutput>;

/**
 * A failed fetch or push: an answer another attempt cannot change (auth, not found, rejected)
 * fails the job at once; anything else (network, 5xx) is left to the retry policy.
 */
function remoteFailure(what: string, error: unknown): Error {
  if (!(error instanceof GitError)) return error as Error;
  const reason = error.message;
  const status = /returned error: (\d{3})/.exec(reason)?.[1];
  const final =
    /Authentication failed|could not read (Username|Password)|Permission denied|not found|does not appear to be a git repository|terminal prompts disabled/i.test(
      reason,
    ) ||
    (status !== undefined && status.startsWith('4') && status !== '408' && status !== '429');
  const message = `git could not ${what}: ${reason}`;
  return final ? new NonRetryableJobError(message) : new Error(message);
}

@Injectable()
export class PrCreationProcessor implements JobProcessor<PrCreationParams, PrCreationResult> {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly gitCli: GitCli,
    private readonly projects: ProjectRepository,
    private readonly credentials: ProjectCredentialsService,
    private readonly hosts: PullRequestHostFactory,
  ) {}

  async process(ctx: JobContext<PrCreationParams>): Promise<PrCreationResult> {
    const { params } = ctx;
    const workspace = ctx.workspace;
    if (!workspace) throw new NonRetryableJobError('pr-creation needs a project workspace');
    const { repoUrl, slug, defaultBranch, token } = await this.projectRemote(ctx.projectId);
    const source = params.sourceBranch;
    const target = params.targetBranch ?? defaultBranch;
    await this.checkBranches(source, target);

    const git = this.workspaceGit(workspace, ctx.signal, token);
    const remote: GitRunOptions = { config: githubAuthConfig(repoUrl, token) };

    await ctx.progress(5, 'checking the workspace');
    await this.assertNothingInProgress(git, workspace);

    await ctx.progress(15, `fetching ${target}`);
    const base = await this.fetchTarget(git, remote, target);

    await ctx.progress(30, params.commitId ? 'reading the commit' : 'committing the changes');
    const headSha = params.commitId
      ? await this.existingCommit(git, params.commitId)
      : await this.commitChanges(git, source, params.commitMessage ?? params.title);
    const filesChanged = await this.changesToPropose(ctx, git, base, headSha, target);

    await ctx.progress(50, `pushing ${source}`);
    await this.push(git, remote, source, headSha);
    ctx.log(`pushed ${headSha} to ${source}\n`);

    await ctx.progress(75, 'opening the pull request');
    const github = { token, ...slug };
    const pr = await this.openPullRequest(ctx, github, source, target);
    return {
      number: pr.number,
      url: pr.url,
      branch: source,
      base: target,
      headSha,
      operation: pr.operation,
      filesChanged,
      draft: pr.draft,
    };
  }

  /** The project's remote, as far as a pull request can be opened on it, and the token for it. */
  private async projectRemote(projectId: string): Promise<{
    repoUrl: string;
    slug: { owner: string; repo: string };
    defaultBranch: string;
    token: string;
  }> {
    const project = await this.projects.findById(projectId);
    if (!project) throw new NonRetryableJobError(`project ${projectId} no longer exists`);
    const token = this.githubToken(project);
    const repoUrl = project.repoUrl;
    if (!repoUrl) {
      throw new NonRetryableJobError(
        'the project has no remote repository (repoUrl): nothing to push to',
      );
    }
    const urlProblem = repoUrlProblem(repoUrl, this.config.allowLocalRepos);
    if (urlProblem) throw new NonRetryableJobError(urlProblem);
    const slug = ownerAndRepo(repoUrl);
    if (!slug) {
      throw new NonRetryableJobError(
        `cannot read <owner>/<repo> from the project's repoUrl ${repoUrl}`,
      );
    }
    return { repoUrl, slug, defaultBranch: project.defaultBranch, token };
  }

  /** The project's own token, else the server-wide GITHUB_TOKEN. */
  private githubToken(project: Project): string {
    let own: string | undefined;
    try {
      own = this.credentials.githubToken(project);
    } catch (error) {
      // Another attempt opens it no better; the message names key ids, never a value.
      if (error instanceof SecretUnreadableError) {
        throw new NonRetryableJobError(`the project's GitHub token is unusable: ${error.message}`);
      }
      throw error;
    }
    const token = own ?? this.config.prCreation.githubToken;
    if (token === undefined) {
      throw new NonRetryableJobError(
        'the project has no GitHub token and GITHUB_TOKEN is not set on the worker: cannot push or open a pull request',
      );
    }
    return token;
  }

  private async checkBranches(source: string, target: string): Promise<void> {
    for (const [field, name] of [
      ['params.sourceBranch', source],
      ['params.targetBranch', target],
    ] as const) {
      const problem = await checkBranchName(this.gitCli, field, name);
      if (problem) throw new NonRetryableJobError(problem);
    }
    if (source === target) {
      throw new NonRetryableJobError(`sourceBranch and targetBranch are both ${source}`);
    }
  }

  /** git in the workspace, stopped by the job's signal, with the token kept out of its output. */
  private workspaceGit(workspace: string, signal: AbortSignal, token: string): Git {
    return async (args, options = {}) => {
      try {
        return await this.gitCli.run(['-C', workspace, ...args], {
          signal,
          redact: [token],
          ...options,
        });
      } catch (error) {
        if (signal.aborted) throw new JobCancelledError();
        throw error;
      }
    };
  }

  /** Fetches the target branch into its remote-tracking ref, which is returned. */
  private async fetchTarget(git: Git, remote: GitRunOptions, target: string): Promise<string> {
    const base = `refs/remotes/origin/${target}`;
    await git(
      ['fetch', '--quiet', '--no-tags', 'origin', `+refs/heads/${target}:${base}`],
      remote,
    ).catch((error: unknown) => {
      if (error instanceof GitError && /couldn't find remote ref/i.test(error.message)) {
        throw new NonRetryableJobError(`targetBranch ${target} does not exist on the remote`);
      }
      throw remoteFailure(`fetch ${target}`, error);
    });
    return base;
  }

  /** The number of files the commits ahead of the target change; none ahead fails the job. */
  private async changesToPropose(
    ctx: JobContext<PrCreationParams>,
    git: Git,
    base: string,
    headSha: string,
    target: string,
  ): Promise<number> {
    const { params } = ctx;
    const ahead = Number((await git(['rev-list', '--count', `${base}..${headSha}`, '--'])).stdout);
    if (ahead === 0) {
      throw new NonRetryableJobError(
        params.commitId
          ? `nothing to propose: commit ${params.commitId} is already in ${target}`
          : `nothing to propose: the workspace has no uncommitted changes and no commit ahead of ${target}`,
      );
    }
    const changed = await git(['diff', '--name-only', '-z', `${base}...${headSha}`, '--']);
    const filesChanged = changed.stdout.split('\0').filter((path) => path !== '').length;
    ctx.log(`${headSha}: ${ahead} commit(s) ahead of ${target}, ${filesChanged} file(s) changed\n`);
    return filesChanged;
  }

  /** Opens the pull request (or updates the one already open) and adds what params ask for. */
  private async openPullRequest(
    ctx: JobContext<PrCreationParams>,
    github: { token: string; owner: string; repo: string },
    source: string,
    target: string,
  ): ReturnType<PullRequestHost['openOrUpdate']> {
    const { params } = ctx;
    const host = this.hosts.create({
      ...github,
      signal: ctx.signal,
      onWait: (message) => ctx.log(message),
    });
    const pr = await host.openOrUpdate({
      head: source,
      base: target,
      title: params.title,
      body: params.body ?? params.description ?? '',
      draft: params.draft ?? false,
    });
    ctx.log(`pull request #${pr.number} ${pr.operation}: ${pr.url}\n`);
    if (params.labels?.length) await host.addLabels(pr.number, params.labels);
    if (params.reviewers?.length || params.teamReviewers?.length) {
      await host.requestReviewers(pr.number, params.reviewers ?? [], params.teamReviewers ?? []);
    }
    if (params.assignees?.length) await host.addAssignees(pr.number, params.assignees);
    return pr;
  }

  private async assertNothingInProgress(git: Git, workspace: string): Promise<void> {
    const dir = (await git(['rev-parse', '--git-dir'])).stdout.trim();
    const gitDir = isAbsolute(dir) ? dir : join(workspace, dir);
    for (const [marker, operation] of IN_PROGRESS) {
      if (existsSync(join(gitDir, marker))) {
        throw new NonRetryableJobError(
          `the workspace is in the middle of ${operation}: finish or abort it first`,
        );
      }
    }
    const unmerged = (await git(['diff', '--name-only', '-z', '--diff-filter=U'])).stdout
      .split('\0')
      .filter((path) => path !== '');
    if (unmerged.length > 0) {
      throw new NonRetryableJobError(
        `the workspace has unresolved conflicts in ${unmerged.slice(0, 10).join(', ')}`,
      );
    }
  }

  private async existingCommit(git: Git, commitId: string): Promise<string> {
    const found = await git(
      ['rev-parse', '--verify', '--quiet', '--end-of-options', `${commitId}^{commit}`],
      {
        okExitCodes: [1, 128],
      },
    );
    const sha = found.stdout.trim();
    if (found.exitCode !== 0 || sha === '') {
      throw new NonRetryableJobError(`commitId ${commitId} is not a commit in the workspace`);
    }
    return sha;
  }

  /** Commits every change (new, modified, deleted) on `branch`; without changes, HEAD as it is. */
  private async commitChanges(git: Git, branch: string, message: string): Promise<string> {
    await git(['add', '--all', '--', '.']);
    const staged =
      (await git(['diff', '--cached', '--quiet'], { okExitCodes: [1] })).exitCode === 1;
    const head = await git(['rev-parse', '--verify', '--quiet', 'HEAD'], { okExitCodes: [1, 128] });
    if (!staged) {
      if (head.exitCode !== 0) {
        throw new NonRetryableJobError(
          'nothing to propose: the workspace has no commit and no changes',
        );
      }
      return head.stdout.trim();
    }
    // Created, or moved to where the workspace is; the changes come along.
    await git(['switch', '--quiet', '--force-create', branch]);
    const { authorName, authorEmail } = this.config.prCreation;
    await git([...NO_HOOKS, 'commit', '--quiet', '--no-verify', '--no-gpg-sign', '-m', message], {
      env: {
        GIT_AUTHOR_NAME: authorName,
        GIT_AUTHOR_EMAIL: authorEmail,
        GIT_COMMITTER_NAME: authorName,
        GIT_COMMITTER_EMAIL: authorEmail,
      },
    });
    return (await git(['rev-parse', '--verify', 'HEAD'])).stdout.trim();
  }

  /**
   * --force-with-lease against where this workspace last saw the remote branch (its
   * remote-tracking ref, or "absent"): a branch someone else moved, or created, meanwhile is not
   * overwritten.
   */
  private async push(git: Git, remote: GitRunOptions, branch: string, sha: string): Promise<void> {
    const tracking = `refs/remotes/origin/${branch}`;
    const seen = await git(['rev-parse', '--verify', '--quiet', tracking], { okExitCodes: [1] });
    // A branch deleted on the remote (merged, say) may be created again: expect it absent then.
    const listed = await git(
      ['ls-remote', '--heads', 'origin', `refs/heads/${branch}`],
      remote,
    ).catch((error: unknown) => {
      throw remoteFailure(`read ${branch} on the remote`, error);
    });
    const onRemote = listed.stdout.trim() !== '';
    const lease = onRemote && seen.exitCode === 0 ? seen.stdout.trim() : '';
    try {
      await git(
        [
          ...NO_HOOKS,
          'push',
          '--quiet',
          '--no-verify',
          `--force-with-lease=refs/heads/${branch}:${lease}`,
          'origin',
          `${sha}:refs/heads/${branch}`,
        ],
        remote,
      );
    } catch (error) {
      if (error instanceof GitError && /\[(remote )?rejected\]/.test(error.message)) {
        const why = /stale info/.test(error.message)
          ? `the remote branch ${branch} moved since this workspace last saw it`
          : `the remote refused ${branch}`;
        throw new NonRetryableJobError(`push rejected: ${why} (git: ${error.message})`);
      }
      throw remoteFailure(`push ${branch}`, error);
    }
  }
}
