import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { RefreshToken } from '../auth/refresh-token.entity';
import { PrincipalCache } from './principal-cache.service';
import { User } from './user.entity';
import { UsersController } from './users.controller';
import { UsersService } from './users.service';

/**
 * Users CRUD (admin only) and the first admin at start-up. Exports UsersService and PrincipalCache (users' current
 * enabled flag and role) for AuthModule.
 */
@Module({
  imports: [TypeOrmModule.forFeature([User, RefreshToken])],
  controllers: [UsersController],
  providers: [UsersService, PrincipalCache],
  exports: [UsersService, PrincipalCache],
})
export class UsersModule {}
