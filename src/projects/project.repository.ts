import { Inject, Injectable } from '@nestjs/common';
import type { PrismaClient, Project } from '../generated/prisma/client';
import { guardDependency } from '../common/dependency.errors';
import type { SealedSecret } from '../common/secret-box';
import type { JobProjects } from '../core/job-projects';
import { PRISMA } from '../database/database.tokens';
import type { ProjectStatus } from './dto/project.view';

export interface NewProject {
  id: string;
  ownerId: string;
  name: string;
  repoUrl: string | null;
  defaultBranch: string;
  workspacePath: string;
  status: ProjectStatus;
  githubToken?: SealedSecret;
}

/** A project's sealed GitHub token, as stored. */
export interface StoredGithubToken extends SealedSecret {
  projectId: string;
}

@Injectable()
export class ProjectRepository implements JobProjects {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  create({ githubToken, ...data }: NewProject): Promise<Project> {
    return guardDependency('database', () =>
      this.prisma.project.create({
        data: {
          ...data,
          githubTokenSecret: githubToken?.secret ?? null,
          githubTokenKeyId: githubToken?.keyId ?? null,
        },
      }),
    );
  }

  /** Stores (or, with null, removes) the project's sealed GitHub token. */
  setGithubToken(id: string, sealed: SealedSecret | null): Promise<Project | null> {
    return guardDependency('database', async () => {
      const { count } = await this.prisma.project.updateMany({
        where: { id },
        data: {
          githubTokenSecret: sealed?.secret ?? null,
          githubTokenKeyId: sealed?.keyId ?? null,
        },
      });
      return count === 0 ? null : this.prisma.project.findUnique({ where: { id } });
    });
  }

  /** Every stored GitHub token not sealed under keyId (a rotation's work), oldest first. */
  githubTokensNotUnder(keyId: string): Promise<StoredGithubToken[]> {
    return guardDependency('database', async () => {
      const rows = await this.prisma.project.findMany({
        where: { githubTokenSecret: { not: null }, NOT: { githubTokenKeyId: keyId } },
        select: { id: true, githubTokenSecret: true, githubTokenKeyId: true },
        orderBy: { createdAt: 'asc' },
      });
      return rows.map((row) => ({
        projectId: row.id,
        secret: row.githubTokenSecret ?? '',
        keyId: row.githubTokenKeyId ?? '',
      }));
    });
  }

  /**
   * Replaces a sealed token with the same token sealed again, unless it changed meanwhile (a
   * PUT or DELETE of the credentials wins). Whether it was replaced.
   */
  resealGithubToken(stored: StoredGithubToken, sealed: SealedSecret): Promise<boolean> {
    return guardDependency('database', async () => {
      const { count } = await this.prisma.project.updateMany({
        where: { id: stored.projectId, githubTokenSecret: stored.secret },
        data: { githubTokenSecret: sealed.secret, githubTokenKeyId: sealed.keyId },
      });
      return count === 1;
    });
  }

  findForOwner(id: string, ownerId: string): Promise<Project | null> {
    return guardDependency('database', () =>
      this.prisma.project.findFirst({ where: { id, ownerId } }),
    );
  }

  findById(id: string): Promise<Project | null> {
    return guardDependency('database', () => this.prisma.project.findUnique({ where: { id } }));
  }

  listForOwner(ownerId: string): Promise<Project[]> {
    return guardDependency('database', () =>
      this.prisma.project.findMany({
        where: { ownerId },
        orderBy: { createdAt: 'desc' },
        take: 500,
      }),
    );
  }

  setStatus(
    id: string,
    status: ProjectStatus,
    fields: { error?: string | null; defaultBranch?: string } = {},
  ): Promise<void> {
    return guardDependency('database', async () => {
      await this.prisma.project.updateMany({ where: { id }, data: { status, ...fields } });
    });
  }

  /** Projects whose clone was cut off by a restart. */
  failStaleClones(olderThan: Date): Promise<number> {
    return guardDependency('database', async () => {
      const { count } = await this.prisma.project.updateMany({
        where: { status: 'cloning', updatedAt: { lt: olderThan } },
        data: { status: 'error', error: 'clone interrupted by a restart; delete and create again' },
      });
      return count;
    });
  }

  activeJobCount(projectId: string): Promise<number> {
    return guardDependency('database', () =>
      this.prisma.job.count({ where: { projectId, status: { in: ['queued', 'processing'] } } }),
    );
  }

  delete(id: string): Promise<void> {
    return guardDependency('database', async () => {
      await this.prisma.project.deleteMany({ where: { id } });
    });
  }
}
