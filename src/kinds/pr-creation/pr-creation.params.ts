import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsOptional,
  IsString,
  Length,
  Matches,
  MaxLength,
} from 'class-validator';

/** GitHub logins: letters, digits and hyphens, at most 39. */
const LOGIN = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;
/** A team's slug (its URL name within the organisation): "org/team" is not accepted. */
const TEAM_SLUG = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

export class PrCreationParams {
  @ApiProperty({ maxLength: 256, example: 'Add the greeting endpoint' })
  @IsString()
  @Length(1, 256)
  title!: string;

  @ApiPropertyOptional({
    description: 'The pull request description (Markdown)',
    maxLength: 65_536,
  })
  @IsOptional()
  @IsString()
  @MaxLength(65_536)
  body?: string;

  @ApiPropertyOptional({
    description: 'Alias of body; giving both with different texts is refused',
    maxLength: 65_536,
  })
  @IsOptional()
  @IsString()
  @MaxLength(65_536)
  description?: string;

  @ApiProperty({
    description: 'The branch to commit and push to (created, or moved); a valid git branch name',
    example: 'conveyor/greeting',
    maxLength: 255,
  })
  @IsString()
  @Length(1, 255)
  sourceBranch!: string;

  @ApiPropertyOptional({ description: "Default: the project's default branch", maxLength: 255 })
  @IsOptional()
  @IsString()
  @Length(1, 255)
  targetBranch?: string;

  @ApiPropertyOptional({ description: 'Default: the title', maxLength: 65_536 })
  @IsOptional()
  @IsString()
  @Length(1, 65_536)
  commitMessage?: string;

  @ApiPropertyOptional({
    description:
      "Propose this existing commit (full or abbreviated id) instead of the workspace's changes",
    example: '3f2c1a9',
  })
  @IsOptional()
  @IsString()
  @Matches(/^[0-9a-f]{4,64}$/, { message: 'commitId must be a commit id (4-64 hex digits)' })
  commitId?: string;

  @ApiPropertyOptional({ description: 'Open as a draft (on creation only)', default: false })
  @IsOptional()
  @IsBoolean()
  draft?: boolean;

  @ApiPropertyOptional({ type: [String], maxItems: 100 })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(100)
  @IsString({ each: true })
  @Length(1, 50, { each: true })
  labels?: string[];

  @ApiPropertyOptional({ type: [String], maxItems: 15, description: 'GitHub logins' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(15)
  @Matches(LOGIN, { each: true, message: 'reviewers must be GitHub logins' })
  reviewers?: string[];

  @ApiPropertyOptional({
    type: [String],
    maxItems: 15,
    description: "Team slugs of the repository's organisation (its URL name, without the org)",
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(15)
  @Matches(TEAM_SLUG, { each: true, message: 'teamReviewers must be team slugs' })
  teamReviewers?: string[];

  @ApiPropertyOptional({ type: [String], maxItems: 10, description: 'GitHub logins' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(10)
  @Matches(LOGIN, { each: true, message: 'assignees must be GitHub logins' })
  assignees?: string[];
}
