import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsOptional, IsString, Length } from 'class-validator';
import { PaginationQueryDto, queryBoolean } from '@common/pagination';

/** `GET /images` filters. */
export class ListImagesQueryDto extends PaginationQueryDto {
  @ApiPropertyOptional({ example: 'windows' })
  @IsOptional()
  @IsString()
  @Length(1, 100)
  osType?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @Transform(queryBoolean)
  @IsBoolean()
  isTemplate?: boolean;

  @ApiPropertyOptional({ description: 'only images whose tags contain this tag', example: 'gaming' })
  @IsOptional()
  @IsString()
  @Length(1, 64)
  tag?: string;
}
