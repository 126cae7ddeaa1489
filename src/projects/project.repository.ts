import { Inject, Injectable } from '@nestjs/common';
import type { PrismaClient, Project } from '../generated/prisma/client';
import { guardDependency } from '../common/dependency.errors';
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
}

@Injectable()
export class ProjectRepository implements JobProjects {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  create(data: NewProject): Promise<Project> {
    return guardDependency('database', () => this.prisma.project.create({ data }));
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
