import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsOptional, IsString, Length } from 'class-validator';
import { PaginationQueryDto, queryBoolean } from '@common/pagination';
import { SearchQuery, SortQuery } from '@common/list-query';

/** Sortable fields of `GET /images`. */
export const IMAGE_SORT = {
  name: 'i.name',
  createdAt: 'i.created_at',
  updatedAt: 'i.updated_at',
  sizeBytes: 'i.size_bytes',
  osType: 'i.os_type',
} as const;

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

  @SearchQuery('image name prefix (any case)')
  q?: string;

  @SortQuery(IMAGE_SORT, '-createdAt')
  sort?: string;
}
