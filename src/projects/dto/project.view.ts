import { ApiProperty } from '@nestjs/swagger';
import type { Project } from '../../generated/prisma/client';

export const PROJECT_STATUSES = ['cloning', 'ready', 'error'] as const;
export type ProjectStatus = (typeof PROJECT_STATUSES)[number];

export class ProjectView {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ nullable: true, type: String }) repoUrl!: string | null;
  @ApiProperty() defaultBranch!: string;
  @ApiProperty({ enum: PROJECT_STATUSES }) status!: string;
  @ApiProperty({ nullable: true, type: String }) error!: string | null;
  @ApiProperty({ description: 'Whether the project holds its own GitHub token' })
  hasGithubToken!: boolean;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;

  static from(project: Project): ProjectView {
    return {
      id: project.id,
      name: project.name,
      repoUrl: project.repoUrl,
      defaultBranch: project.defaultBranch,
      status: project.status,
      error: project.error,
      hasGithubToken: project.githubTokenSecret !== null,
      createdAt: project.createdAt.toISOString(),
      updatedAt: project.updatedAt.toISOString(),
    };
  }
}
