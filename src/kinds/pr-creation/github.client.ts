import { setTimeout as delay } from 'node:timers/promises';
import { Octokit } from '@octokit/rest';
import { NonRetryableJobError } from '../../core/job.errors';
import type {
  PullRequestDraft,
  PullRequestHost,
  PullRequestHostOptions,
  PullRequestRef,
} from './pull-request-host';

/** GitHub refuses a longer pull request body ("body is too long (maximum is 65536 characters)"). */
export const GITHUB_BODY_LIMIT = 65_536;
const TRUNCATED = '\n\n…(truncated)';

export function truncateBody(body: string): string {
  if (body.length <= GITHUB_BODY_LIMIT) return body;
  return body.slice(0, GITHUB_BODY_LIMIT - TRUNCATED.length) + TRUNCATED;
}

/** Answers that another attempt cannot change (docs/pr-creation.md#failures-and-retries). */
const FINAL_STATUSES = [401, 403, 404, 422];

interface GitHubErrorBody {
  message?: unknown;
  errors?: unknown;
}

/** GitHub's own words: its message and, for 422, each validation error's message or code. */
function gitHubMessage(data: unknown, fallback: string): string {
  if (typeof data !== 'object' || data === null) return fallback;
  const { message, errors } = data as GitHubErrorBody;
  const head = typeof message === 'string' && message !== '' ? message : fallback;
  const details = Array.isArray(errors)
    ? errors
        .map((entry: unknown) => {
          if (typeof entry === 'string') return entry;
          if (typeof entry !== 'object' || entry === null) return '';
          const { message: m, code, field } = entry as Record<string, unknown>;
          if (typeof m === 'string') return m;
          return [field, code].filter((part) => typeof part === 'string').join(' ');
        })
        .filter((text) => text !== '')
    : [];
  return details.length > 0 ? `${head}: ${details.join('; ')}` : head;
}

interface OctokitFailure {
  status: number;
  message: string;
  response?: { data?: unknown; headers?: Record<string, string | number | undefined> };
}

/** A rate-limit wait up to this long is sat out in the call; a longer one fails the job. */
const RATE_LIMIT_MAX_WAIT_MS = 60_000;
/** Answers one call makes, rate-limited ones included, before a rate limit fails the job. */
const RATE_LIMIT_TRIES = 3;

/**
 * How long GitHub asks to wait before the next request, when a 403 or 429 is a rate limit
 * (primary: x-ratelimit-remaining 0 until x-ratelimit-reset; secondary: retry-after), else null.
 */
function rateLimitWaitMs(error: OctokitFailure, message: string, now = Date.now()): number | null {
  if (error.status !== 403 && error.status !== 429) return null;
  const headers = error.response?.headers ?? {};
  const retryAfter = Number(headers['retry-after']);
  if (headers['retry-after'] !== undefined && Number.isFinite(retryAfter)) {
    return Math.max(0, retryAfter * 1000);
  }
  const reset = Number(headers['x-ratelimit-reset']);
  if (String(headers['x-ratelimit-remaining']) === '0' && Number.isFinite(reset)) {
    return Math.max(0, reset * 1000 - now);
  }
  // A secondary limit without headers: GitHub asks for at least a minute.
  return error.status === 429 || /rate limit/i.test(message) ? 60_000 : null;
}

function isOctokitFailure(error: unknown): error is OctokitFailure {
  return error instanceof Error && typeof (error as { status?: unknown }).status === 'number';
}

export class GitHubClient implements PullRequestHost {
  private readonly octokit: Octokit;

  constructor(private readonly options: PullRequestHostOptions & { baseUrl: string }) {
    this.octokit = new Octokit({
      auth: options.token,
      baseUrl: options.baseUrl,
      userAgent: 'conveyor-pr-creation',
      request: { signal: options.signal },
      // Octokit's own log would print request lines on our stderr; the job's log says enough.
      log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
    });
  }

  async openOrUpdate(
    draft: PullRequestDraft,
  ): Promise<PullRequestRef & { operation: 'created' | 'updated' }> {
    const { owner, repo } = this.options;
    const body = truncateBody(draft.body);
    try {
      const { data } = await this.call('create the pull request', () =>
        this.octokit.pulls.create({
          owner,
          repo,
          head: draft.head,
          base: draft.base,
          title: draft.title,
          body,
          draft: draft.draft,
        }),
      );
      return {
        number: data.number,
        url: data.html_url,
        draft: data.draft ?? draft.draft,
        operation: 'created',
      };
    } catch (error) {
      if (!(error instanceof GitHubError) || !/already exists/i.test(error.message)) throw error;
    }
    const { data: open } = await this.call('find the open pull request', () =>
      this.octokit.pulls.list({
        owner,
        repo,
        state: 'open',
        head: `${owner}:${draft.head}`,
        base: draft.base,
        per_page: 10,
      }),
    );
    const existing = open[0];
    if (!existing) {
      throw new NonRetryableJobError(
        `GitHub says a pull request ${draft.head} → ${draft.base} already exists but lists none open`,
      );
    }
    const { data } = await this.call('update the pull request', () =>
      this.octokit.pulls.update({
        owner,
        repo,
        pull_number: existing.number,
        title: draft.title,
        body,
      }),
    );
    return {
      number: data.number,
      url: data.html_url,
      draft: data.draft ?? false,
      operation: 'updated',
    };
  }

  async addLabels(number: number, labels: string[]): Promise<void> {
    const { owner, repo } = this.options;
    await this.call('add the labels', () =>
      this.octokit.issues.addLabels({ owner, repo, issue_number: number, labels }),
    );
  }

  async requestReviewers(
    number: number,
    reviewers: string[],
    teamReviewers: string[],
  ): Promise<void> {
    const { owner, repo } = this.options;
    await this.call('request the reviewers', () =>
      this.octokit.pulls.requestReviewers({
        owner,
        repo,
        pull_number: number,
        ...(reviewers.length > 0 && { reviewers }),
        ...(teamReviewers.length > 0 && { team_reviewers: teamReviewers }),
      }),
    );
  }

  async addAssignees(number: number, assignees: string[]): Promise<void> {
    const { owner, repo } = this.options;
    await this.call('add the assignees', () =>
      this.octokit.issues.addAssignees({ owner, repo, issue_number: number, assignees }),
    );
  }

  /**
   * 401/403/404/422 fail the job at once with GitHub's message; 5xx and network failures are
   * plain errors, which the job's retry policy retries. A rate limit (403/429 saying so) is sat
   * out when GitHub asks for RATE_LIMIT_MAX_WAIT_MS or less; a longer one fails the job at once,
   * saying how long. The token never appears in an error.
   */
  private async call<T>(what: string, request: () => Promise<T>, tries = 1): Promise<T> {
    try {
      return await request();
    } catch (error) {
      const { signal, token } = this.options;
      if (signal?.aborted) throw error;
      const redact = (text: string) => text.split(token).join('***');
      if (!isOctokitFailure(error)) {
        throw new Error(redact(`GitHub: could not ${what}: ${(error as Error).message}`));
      }
      const message = redact(gitHubMessage(error.response?.data, error.message));
      const waitMs = rateLimitWaitMs(error, message);
      if (waitMs !== null) {
        if (waitMs <= RATE_LIMIT_MAX_WAIT_MS && tries < RATE_LIMIT_TRIES) {
          this.options.onWait?.(
            `GitHub rate limit: waiting ${Math.ceil(waitMs / 1000)} s to ${what}\n`,
          );
          // Aborted (the job cancelled or timed out): the rejection is the signal's, not GitHub's.
          await delay(waitMs, undefined, { signal }).catch(() => undefined);
          if (signal?.aborted) throw error;
          return this.call(what, request, tries + 1);
        }
        // The job's backoff (seconds) would spend every attempt inside the limit window.
        throw new GitHubError(
          `GitHub answered ${error.status} to ${what}: rate limited for ${Math.ceil(waitMs / 1000)} s more: ${message}`,
        );
      }
      if (FINAL_STATUSES.includes(error.status)) {
        throw new GitHubError(`GitHub answered ${error.status} to ${what}: ${message}`);
      }
      const status = error.response ? ` ${error.status}` : '';
      throw new Error(`GitHub${status}: could not ${what}: ${message}`);
    }
  }
}

export class GitHubError extends NonRetryableJobError {
  override readonly name = 'GitHubError';
}
