import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';
import { GitHubClient } from './github.client';
import type { PullRequestHost, PullRequestHostOptions } from './pull-request-host';

/** The configured host of pull requests: GitHub, or GitHub Enterprise at GITHUB_API_URL. */
@Injectable()
export class PullRequestHostFactory {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  create(options: PullRequestHostOptions): PullRequestHost {
    return new GitHubClient({ ...options, baseUrl: this.config.prCreation.githubApiUrl });
  }
}
