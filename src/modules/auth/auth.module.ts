import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { UsersModule } from '../users/users.module';
import { AuthController } from './auth.controller';
import { AuthService } from './auth.service';
import { LoginThrottle } from './login-throttle';
import { RefreshToken } from './refresh-token.entity';

/** Login, token refresh/rotation and logout. JwtModule is global (root module). */
@Module({
  imports: [UsersModule, TypeOrmModule.forFeature([RefreshToken])],
  controllers: [AuthController],
  providers: [AuthService, { provide: LoginThrottle, useFactory: () => new LoginThrottle() }],
  exports: [AuthService],
})
export class AuthModule {}
