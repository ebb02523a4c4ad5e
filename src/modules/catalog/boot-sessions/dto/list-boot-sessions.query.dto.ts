import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsISO8601, IsOptional, IsUUID } from 'class-validator';
import { PaginationQueryDto } from '@common/pagination';
import { SearchQuery, SortQuery } from '@common/list-query';

/** Sortable fields of `GET /boot-sessions`. */
export const SESSION_SORT = { startedAt: 's.started_at', endedAt: 's.ended_at', status: 's.status', bootTimeSeconds: 's.boot_time_seconds' } as const;
import { SESSION_STATUSES, SessionStatus } from '../boot-session.entity';

/** `GET /boot-sessions` filters; `from <= startedAt < to`. */
export class ListBootSessionsQueryDto extends PaginationQueryDto {
  @ApiPropertyOptional({ enum: SESSION_STATUSES })
  @IsOptional()
  @IsIn(SESSION_STATUSES)
  status?: SessionStatus;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  clientId?: string;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  imageId?: string;

  @ApiPropertyOptional({ description: 'ISO 8601; sessions started at or after', example: '2026-01-01T00:00:00Z' })
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  @ApiPropertyOptional({ description: 'ISO 8601; sessions started before', example: '2026-02-01T00:00:00Z' })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;

  @SearchQuery("the client's hostname prefix (any case) or MAC prefix")
  q?: string;

  @SortQuery(SESSION_SORT, '-startedAt')
  sort?: string;
}
