/** Public surface of the users module: other modules import from here only. */
export { User } from './user.entity';
export { UsersModule } from './users.module';
export { UsersService } from './users.service';
export { PrincipalCache } from './principal-cache.service';
export { RefreshTokensService } from './refresh-tokens.service';
