import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { RefreshToken } from './refresh-token.entity';
import { PrincipalCache } from './principal-cache.service';
import { RefreshTokensService } from './refresh-tokens.service';
import { User } from './user.entity';
import { UsersController } from './users.controller';
import { UsersService } from './users.service';

/**
 * Users CRUD (admin only) and the first admin at start-up. Owns the users' credentials: password hashes and refresh
 * tokens. Exports UsersService, PrincipalCache (users' current enabled flag and role) and RefreshTokensService for
 * AuthModule.
 */
@Module({
  imports: [TypeOrmModule.forFeature([User, RefreshToken])],
  controllers: [UsersController],
  providers: [UsersService, PrincipalCache, RefreshTokensService],
  exports: [UsersService, PrincipalCache, RefreshTokensService],
})
export class UsersModule {}
