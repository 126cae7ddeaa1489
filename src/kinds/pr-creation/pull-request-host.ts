/** A pull request as the job reports it. */
export interface PullRequestRef {
  number: number;
  url: string;
  /** As GitHub says after the call: an update leaves an open pull request's draft state as it was. */
  draft: boolean;
}

export interface PullRequestDraft {
  head: string;
  base: string;
  title: string;
  body: string;
  draft: boolean;
}

/** One repository's pull requests, for one job. */
export interface PullRequestHostOptions {
  token: string;
  owner: string;
  repo: string;
  signal?: AbortSignal;
  /** Told of each rate-limit wait the host sits out (the job's log). */
  onWait?: (message: string) => void;
}

/**
 * Where pull requests are opened. GitHub (and GitHub Enterprise) is the one implementation; a
 * GitLab or Bitbucket one would implement the same calls.
 */
export interface PullRequestHost {
  /** Opens the pull request, or updates (title, body) the open one for the same head and base. */
  openOrUpdate(
    draft: PullRequestDraft,
  ): Promise<PullRequestRef & { operation: 'created' | 'updated' }>;
  addLabels(number: number, labels: string[]): Promise<void>;
  requestReviewers(number: number, reviewers: string[], teamReviewers: string[]): Promise<void>;
  addAssignees(number: number, assignees: string[]): Promise<void>;
}
