import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsOptional, IsUUID } from 'class-validator';
import { PaginationQueryDto, queryBoolean } from '@common/pagination';
import { SortQuery } from '@common/list-query';

/** Sortable fields of `GET /wake-schedules`. */
export const SCHEDULE_SORT = { nextRunAt: 's.next_run_at', createdAt: 's.created_at', updatedAt: 's.updated_at' } as const;

/** `GET /wake-schedules` query. */
export class ListWakeSchedulesQueryDto extends PaginationQueryDto {
  @ApiPropertyOptional({ format: 'uuid', description: "one group's schedules" })
  @IsOptional()
  @IsUUID()
  groupId?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @Transform(queryBoolean)
  @IsBoolean()
  enabled?: boolean;

  @SortQuery(SCHEDULE_SORT, 'nextRunAt')
  sort?: string;
}
