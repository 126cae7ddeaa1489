import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsString, Length, Matches, Max, Min } from 'class-validator';

export class SearchQuery {
  @ApiProperty({
    description:
      'Words, an identifier (`parseConfig`, `user_repository.find`), part of one, or a path',
    maxLength: 500,
  })
  @IsString()
  @Length(1, 500)
  @Matches(/\S/, { message: 'q must not be blank' })
  q!: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 50, default: 10 })
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(50)
  limit: number = 10;
}
