import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsOptional, IsUUID } from 'class-validator';
import { PaginationQueryDto, queryBoolean } from '@common/pagination';

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
}
