import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CurrentUser } from '../auth/auth.decorators';
import type { AuthUser } from '../auth/jwt.service';
import { CreateProjectDto } from './dto/create-project.dto';
import { ProjectCredentialsDto } from './dto/project-credentials.dto';
import { ProjectView } from './dto/project.view';
import { ProjectsService } from './projects.service';

@ApiTags('projects')
@ApiBearerAuth()
@Controller('projects')
export class ProjectsController {
  constructor(private readonly projects: ProjectsService) {}

  @Post()
  @ApiOperation({ summary: 'Create a project: clone repoUrl in the background, or an empty repo' })
  @ApiCreatedResponse({ type: ProjectView })
  async create(
    @CurrentUser() user: AuthUser,
    @Body() body: CreateProjectDto,
    @Res({ passthrough: true }) res: FastifyReply,
  ): Promise<ProjectView> {
    const project = await this.projects.create(user.id, body);
    res.header('Location', `/api/v1/projects/${project.id}`);
    return ProjectView.from(project);
  }

  @Get()
  @ApiOkResponse({ type: [ProjectView] })
  async list(@CurrentUser() user: AuthUser): Promise<ProjectView[]> {
    return (await this.projects.list(user.id)).map((project) => ProjectView.from(project));
  }

  @Get(':id')
  @ApiOkResponse({ type: ProjectView })
  async get(@CurrentUser() user: AuthUser, @Param('id') id: string): Promise<ProjectView> {
    return ProjectView.from(await this.projects.get(user.id, id));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete the project and its workspace (409 while its jobs run)' })
  @ApiNoContentResponse()
  async delete(@CurrentUser() user: AuthUser, @Param('id') id: string): Promise<void> {
    await this.projects.delete(user.id, id);
  }

  @Put(':id/credentials')
  @ApiOperation({
    summary: "Store the project's own GitHub token (encrypted; 501 without SECRETS_KEY)",
  })
  @ApiOkResponse({ type: ProjectView })
  async setCredentials(
    @CurrentUser() user: AuthUser,
    @Param('id') id: string,
    @Body() body: ProjectCredentialsDto,
  ): Promise<ProjectView> {
    return ProjectView.from(await this.projects.setCredentials(user.id, id, body.githubToken));
  }

  @Delete(':id/credentials')
  @ApiOperation({ summary: "Remove the project's own GitHub token" })
  @ApiOkResponse({ type: ProjectView })
  async deleteCredentials(
    @CurrentUser() user: AuthUser,
    @Param('id') id: string,
  ): Promise<ProjectView> {
    return ProjectView.from(await this.projects.deleteCredentials(user.id, id));
  }
}
