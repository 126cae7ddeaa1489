import { ApiProperty } from '@nestjs/swagger';
import { IsString, Matches } from 'class-validator';
import { GITHUB_TOKEN_PATTERN, GITHUB_TOKEN_RULE } from '../../config/pr-creation.config';

export const GITHUB_TOKEN_MESSAGE = `githubToken must be ${GITHUB_TOKEN_RULE}`;

export class ProjectCredentialsDto {
  @ApiProperty({
    description: "The project's own GitHub token; stored encrypted, never returned",
    maxLength: 1000,
    writeOnly: true,
  })
  @IsString()
  @Matches(GITHUB_TOKEN_PATTERN, { message: GITHUB_TOKEN_MESSAGE })
  githubToken!: string;
}
