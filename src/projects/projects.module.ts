import { Global, Module, type DynamicModule } from '@nestjs/common';
import { JobProjects } from '../core/job-projects';
import { GitCli } from './git-cli';
import { ProjectCredentialsService } from './project-credentials.service';
import { ProjectRepository } from './project.repository';
import { ProjectsController } from './projects.controller';
import { ProjectsService } from './projects.service';
import { WorkspaceService } from './workspace.service';

/** Projects and their git workspaces; the repository is shared, and is the core's JobProjects. */
@Global()
@Module({})
export class ProjectsModule {
  static forRoot(api: boolean): DynamicModule {
    return {
      module: ProjectsModule,
      providers: [
        ProjectRepository,
        { provide: JobProjects, useExisting: ProjectRepository },
        GitCli,
        WorkspaceService,
        ProjectCredentialsService,
        ...(api ? [ProjectsService] : []),
      ],
      controllers: api ? [ProjectsController] : [],
      exports: [
        ProjectRepository,
        JobProjects,
        GitCli,
        WorkspaceService,
        ProjectCredentialsService,
      ],
    };
  }
}
