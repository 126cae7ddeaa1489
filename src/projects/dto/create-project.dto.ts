import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Length, Matches, MaxLength } from 'class-validator';
import { GITHUB_TOKEN_PATTERN } from '../../config/pr-creation.config';
import { BRANCH_NAME } from '../repo-url';
import { GITHUB_TOKEN_MESSAGE } from './project-credentials.dto';

export class CreateProjectDto {
  @ApiProperty({ maxLength: 200 })
  @IsString()
  @Length(1, 200)
  name!: string;

  @ApiPropertyOptional({
    description: 'https or ssh git URL to clone; omitted: an empty repository',
    maxLength: 2000,
  })
  @IsOptional()
  @IsString()
  @MaxLength(2000)
  repoUrl?: string;

  @ApiPropertyOptional({ description: "Default: the remote's default branch, or main" })
  @IsOptional()
  @IsString()
  @Matches(BRANCH_NAME, { message: 'defaultBranch must be a valid git branch name' })
  defaultBranch?: string;

  @ApiPropertyOptional({
    description:
      "The project's own GitHub token, for the clone and its pull requests; stored encrypted, never returned",
    maxLength: 1000,
    writeOnly: true,
  })
  @IsOptional()
  @IsString()
  @Matches(GITHUB_TOKEN_PATTERN, { message: GITHUB_TOKEN_MESSAGE })
  githubToken?: string;
}
