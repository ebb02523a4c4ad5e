import { PaginationQueryDto } from '@common/pagination';
import { SearchQuery, SortQuery } from '@common/list-query';

/** Sortable fields of `GET /client-groups`. */
export const GROUP_SORT = { name: 'g.name', createdAt: 'g.created_at', updatedAt: 'g.updated_at' } as const;

/** `GET /client-groups` query. */
export class ListClientGroupsQueryDto extends PaginationQueryDto {
  @SearchQuery('group name prefix (any case)')
  q?: string;

  @SortQuery(GROUP_SORT, 'name')
  sort?: string;
}
