import { Module } from '@nestjs/common';
import { PassportModule } from '@nestjs/passport';
import { UsersModule } from '../users';
import { ApiDocsAccess } from './api-docs-access';
import { AuthController } from './auth.controller';
import { AuthService } from './auth.service';
import { JwtSecretModule } from './jwt-secret.module';
import { JwtStrategy } from './jwt.strategy';
import { LoginThrottle } from './login-throttle';

/**
 * Login, token refresh/rotation and logout, and the passport 'jwt' strategy that checks access tokens for the global
 * JwtAuthGuard. JwtModule (signing) is global, registered in the root module with the same JwtSecretModule key.
 */
@Module({
  imports: [UsersModule, PassportModule, JwtSecretModule],
  controllers: [AuthController],
  providers: [AuthService, JwtStrategy, ApiDocsAccess, { provide: LoginThrottle, useFactory: () => new LoginThrottle() }],
  exports: [AuthService, ApiDocsAccess],
})
export class AuthModule {}
