import { randomUUID } from 'node:crypto';
import {
  BadRequestException,
  ConflictException,
  Inject,
  Injectable,
  Logger,
  NotFoundException,
  NotImplementedException,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import type { Project } from '../generated/prisma/client';
import type { CreateProjectDto } from './dto/create-project.dto';
import { ProjectCredentialsService } from './project-credentials.service';
import { ProjectRepository } from './project.repository';
import { repoUrlProblem } from './repo-url';
import { WorkspaceService } from './workspace.service';
import { isUuid } from '../common/ids';

@Injectable()
export class ProjectsService implements OnApplicationBootstrap {
  private readonly logger = new Logger(ProjectsService.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly projects: ProjectRepository,
    private readonly workspaces: WorkspaceService,
    private readonly credentials: ProjectCredentialsService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const stale = new Date(Date.now() - this.config.cloneTimeoutMs);
    const failed = await this.projects.failStaleClones(stale).catch(() => 0);
    if (failed > 0) this.logger.warn(`${failed} interrupted clone(s) marked as error`);
  }

  /** An empty repository is ready at once; a clone runs in the background (status cloning). */
  async create(ownerId: string, body: CreateProjectDto): Promise<Project> {
    if (body.repoUrl !== undefined) {
      const problem = repoUrlProblem(body.repoUrl, this.config.allowLocalRepos);
      if (problem) throw new BadRequestException(problem);
    }
    if (body.githubToken !== undefined) this.assertCanStoreCredentials();
    const id = randomUUID();
    const workspacePath = this.workspaces.pathFor(id);
    const project = await this.projects.create({
      id,
      ownerId,
      name: body.name,
      repoUrl: body.repoUrl ?? null,
      defaultBranch: body.defaultBranch ?? 'main',
      workspacePath,
      status: body.repoUrl === undefined ? 'ready' : 'cloning',
      githubToken:
        body.githubToken === undefined ? undefined : this.credentials.seal(id, body.githubToken),
    });
    if (body.repoUrl === undefined) {
      try {
        await this.workspaces.init(workspacePath, project.defaultBranch);
      } catch (error) {
        await this.projects.delete(id);
        throw error;
      }
      return project;
    }
    void this.cloneInBackground(project, body.repoUrl, body.defaultBranch, body.githubToken);
    return project;
  }

  /** Stores the project's own GitHub token (sealed), replacing any it had. */
  async setCredentials(ownerId: string, id: string, githubToken: string): Promise<Project> {
    const project = await this.get(ownerId, id);
    this.assertCanStoreCredentials();
    const sealed = this.credentials.seal(project.id, githubToken);
    return this.stillThere(id, await this.projects.setGithubToken(project.id, sealed));
  }

  async deleteCredentials(ownerId: string, id: string): Promise<Project> {
    const project = await this.get(ownerId, id);
    return this.stillThere(id, await this.projects.setGithubToken(project.id, null));
  }

  async get(ownerId: string, id: string): Promise<Project> {
    const project = isUuid(id) ? await this.projects.findForOwner(id, ownerId) : null;
    if (!project) throw new NotFoundException(`project ${id} not found`);
    return project;
  }

  list(ownerId: string): Promise<Project[]> {
    return this.projects.listForOwner(ownerId);
  }

  async delete(ownerId: string, id: string): Promise<void> {
    const project = await this.get(ownerId, id);
    if (project.status === 'cloning') throw new ConflictException('project is still cloning');
    const active = await this.projects.activeJobCount(project.id);
    if (active > 0) {
      throw new ConflictException(
        `project has ${active} queued or running job(s); cancel them first`,
      );
    }
    await this.projects.delete(project.id);
    await this.workspaces.remove(project.workspacePath);
  }

  private assertCanStoreCredentials(): void {
    if (!this.credentials.canStore) {
      throw new NotImplementedException(
        'storing a githubToken needs SECRETS_KEY set on the server (32 bytes as 64 hex digits or base64; docs/credentials.md)',
      );
    }
  }

  private stillThere(id: string, project: Project | null): Project {
    if (!project) throw new NotFoundException(`project ${id} not found`);
    return project;
  }

  private async cloneInBackground(
    project: Project,
    url: string,
    branch: string | undefined,
    githubToken: string | undefined,
  ): Promise<void> {
    try {
      const checkedOut = await this.workspaces.clone(
        url,
        project.workspacePath,
        branch,
        githubToken,
      );
      await this.projects.setStatus(project.id, 'ready', { defaultBranch: checkedOut });
    } catch (error) {
      const reason = (error as Error).message;
      this.logger.warn(`project ${project.id}: clone failed: ${reason}`);
      await this.workspaces.remove(project.workspacePath).catch(() => undefined);
      await this.projects
        .setStatus(project.id, 'error', { error: `clone failed: ${reason}` })
        .catch(() => undefined);
    }
  }
}
