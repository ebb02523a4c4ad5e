import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsOptional, IsUUID } from 'class-validator';
import { PaginationQueryDto, queryBoolean } from '@common/pagination';
import { SearchQuery, SortQuery } from '@common/list-query';
import { CLIENT_SORT } from '../client-search';

/** `GET /clients` filters. */
export class ListClientsQueryDto extends PaginationQueryDto {
  @ApiPropertyOptional({ description: 'only enabled clients' })
  @IsOptional()
  @Transform(queryBoolean)
  @IsBoolean()
  enabledOnly?: boolean;

  @ApiPropertyOptional({ format: 'uuid', description: 'only clients assigned to this image' })
  @IsOptional()
  @IsUUID()
  imageId?: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'only members of this group' })
  @IsOptional()
  @IsUUID()
  groupId?: string;

  @SearchQuery('hostname prefix (any case), MAC prefix, or the name prefix of the assigned image')
  q?: string;

  @SortQuery(CLIENT_SORT, 'hostname')
  sort?: string;
}
