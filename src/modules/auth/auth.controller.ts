import { Body, Controller, Get, HttpCode, Ip, Post, UseInterceptors } from '@nestjs/common';
import { ApiNoContentResponse, ApiOkResponse, ApiTags, ApiTooManyRequestsResponse, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { api } from '@common/api';
import { Auth, CurrentUser, Principal, Public } from '@common/auth/auth.decorators';
import { Role } from '@common/auth/role';
import { AuthService } from './auth.service';
import { LoginDto } from './dto/login.dto';
import { RefreshTokenDto } from './dto/refresh-token.dto';
import { PrincipalDto, TokenPairDto } from './dto/token-pair.dto';
import { RetryAfterInterceptor } from './retry-after.interceptor';

@ApiTags('auth')
@Controller(api('auth'))
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  @Public()
  @Post('login')
  @HttpCode(200)
  @UseInterceptors(RetryAfterInterceptor)
  @ApiOkResponse({ type: TokenPairDto })
  @ApiUnauthorizedResponse({ description: 'INVALID_CREDENTIALS (unknown user, wrong password or disabled user alike)' })
  @ApiTooManyRequestsResponse({ description: 'TOO_MANY_ATTEMPTS (this username from this address, or this address); see Retry-After' })
  login(@Body() dto: LoginDto, @Ip() ip: string): Promise<TokenPairDto> {
    return this.auth.login(dto.username, dto.password, ip);
  }

  @Public()
  @Post('refresh')
  @HttpCode(200)
  @ApiOkResponse({ type: TokenPairDto, description: 'a new pair; the presented refresh token is now revoked' })
  @ApiUnauthorizedResponse({ description: 'REFRESH_TOKEN_INVALID or USER_DISABLED' })
  refresh(@Body() dto: RefreshTokenDto): Promise<TokenPairDto> {
    return this.auth.refresh(dto.refreshToken);
  }

  @Public()
  @Post('logout')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'the refresh token is revoked (also when it was unknown)' })
  logout(@Body() dto: RefreshTokenDto): Promise<void> {
    return this.auth.logout(dto.refreshToken);
  }

  @Auth(Role.Viewer)
  @Get('me')
  @ApiOkResponse({ type: PrincipalDto })
  me(@CurrentUser() user: Principal): PrincipalDto {
    return { id: user.id, username: user.username, role: user.role };
  }
}
