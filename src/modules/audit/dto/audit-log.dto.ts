import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsISO8601, IsOptional, IsString, IsUUID, Length, Max, Min } from 'class-validator';
import { PaginationQueryDto } from '@common/pagination';
import { SearchQuery, SortQuery } from '@common/list-query';

/** Sortable fields of `GET /audit`. */
export const AUDIT_SORT = {
  at: 'a.at',
  action: 'a.action',
  entityType: 'a.entity_type',
  username: 'a.username',
  statusCode: 'a.status_code',
} as const;
import { AuditLog } from '../audit-log.entity';

export class AuditLogDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ type: String, format: 'date-time' })
  at: Date;

  @ApiProperty({ type: String, format: 'uuid', nullable: true })
  userId: string | null;

  @ApiProperty({ type: String, nullable: true })
  username: string | null;

  @ApiProperty({ example: 'clients.create' })
  action: string;

  @ApiProperty({ example: 'clients' })
  entityType: string;

  @ApiProperty({ type: String, nullable: true })
  entityId: string | null;

  @ApiProperty({ type: 'object', additionalProperties: true, nullable: true, description: 'request body (secrets redacted), params, error code' })
  details: Record<string, unknown> | null;

  @ApiProperty({ type: String, nullable: true, example: '192.0.2.10' })
  remoteAddress: string | null;

  @ApiProperty({ type: Number, nullable: true, example: 201 })
  statusCode: number | null;

  static from(r: AuditLog): AuditLogDto {
    return Object.assign(new AuditLogDto(), {
      id: r.id,
      at: r.at,
      userId: r.userId,
      username: r.username,
      action: r.action,
      entityType: r.entityType,
      entityId: r.entityId,
      details: r.details,
      remoteAddress: r.remoteAddress,
      statusCode: r.statusCode,
    });
  }
}

export class AuditLogPageDto {
  @ApiProperty({ type: [AuditLogDto] })
  items: AuditLogDto[];

  @ApiProperty()
  total: number;
}

export class ListAuditQueryDto extends PaginationQueryDto {
  @ApiPropertyOptional({ example: 'clients' })
  @IsOptional()
  @IsString()
  @Length(1, 64)
  entityType?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @Length(1, 64)
  entityId?: string;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  userId?: string;

  @ApiPropertyOptional({ example: 'clients.create' })
  @IsOptional()
  @IsString()
  @Length(1, 64)
  action?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'inclusive lower bound of `at`' })
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'inclusive upper bound of `at`' })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;

  @ApiPropertyOptional({
    minimum: 100,
    maximum: 599,
    example: 400,
    description: 'inclusive lower bound of `statusCode` (entries without one are left out)',
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(599)
  statusMin?: number;

  @ApiPropertyOptional({
    minimum: 100,
    maximum: 599,
    example: 499,
    description: 'inclusive upper bound of `statusCode` (entries without one are left out)',
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(599)
  statusMax?: number;

  @SearchQuery('action or username prefix')
  q?: string;

  @SortQuery(AUDIT_SORT, '-at')
  sort?: string;
}
