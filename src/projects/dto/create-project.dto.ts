import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Length, Matches, MaxLength } from 'class-validator';
import { BRANCH_NAME } from '../repo-url';

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
}
