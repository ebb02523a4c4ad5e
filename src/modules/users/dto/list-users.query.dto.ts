import { PaginationQueryDto } from '@common/pagination';

/** `GET /users?limit=&offset=`. */
export class ListUsersQueryDto extends PaginationQueryDto {}
