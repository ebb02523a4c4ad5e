import { PaginationQueryDto } from '@common/pagination';
import { SearchQuery, SortQuery } from '@common/list-query';

/** Sortable fields of `GET /network-ranges`. */
export const RANGE_SORT = { name: 'r.name', cidr: 'r.cidr', createdAt: 'r.created_at', updatedAt: 'r.updated_at' } as const;

/** `GET /network-ranges` query. */
export class ListNetworkRangesQueryDto extends PaginationQueryDto {
  @SearchQuery('range name prefix (any case)')
  q?: string;

  @SortQuery(RANGE_SORT, 'cidr')
  sort?: string;
}
