import { ApiProperty } from '@nestjs/swagger';

export class PrCreationResultView {
  @ApiProperty({ description: 'The pull request number' })
  number!: number;

  @ApiProperty({ description: "The pull request's web page" })
  url!: string;

  @ApiProperty({ description: 'The branch pushed (sourceBranch)' })
  branch!: string;

  @ApiProperty({ description: 'The branch it is proposed to (targetBranch)' })
  base!: string;

  @ApiProperty({ description: 'The commit pushed as the head of branch' })
  headSha!: string;

  @ApiProperty({ enum: ['created', 'updated'] })
  operation!: 'created' | 'updated';

  @ApiProperty({ description: 'Files that differ between base and headSha' })
  filesChanged!: number;

  @ApiProperty({
    description: 'Whether the pull request is a draft (an update keeps its state as it was)',
  })
  draft!: boolean;
}

export interface PrCreationResult {
  [key: string]: string | number | boolean;
  number: number;
  url: string;
  branch: string;
  base: string;
  headSha: string;
  operation: 'created' | 'updated';
  filesChanged: number;
  draft: boolean;
}
