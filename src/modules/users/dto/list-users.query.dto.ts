import { PaginationQueryDto } from '@common/pagination';
import { SearchQuery, SortQuery } from '@common/list-query';

/** Sortable fields of `GET /users`. */
export const USER_SORT = { username: 'u.username', role: 'u.role', createdAt: 'u.created_at', lastLoginAt: 'u.last_login_at' } as const;

/** `GET /users?limit=&offset=&q=&sort=`. */
export class ListUsersQueryDto extends PaginationQueryDto {
  @SearchQuery('username prefix (any case)')
  q?: string;

  @SortQuery(USER_SORT, 'username')
  sort?: string;
}
