import { Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { DomainError } from '@common/errors/domain-error';
import { AppConfig } from '@config/config.loader';
import { RefreshTokensService, User, UsersService } from '../users';
import { AuthErrorCode } from './auth.errors';
import { TokenPairDto } from './dto/token-pair.dto';
import { AccessTokenClaims } from './jwt.strategy';
import { LoginThrottle } from './login-throttle';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

const invalidCredentials = () => new DomainError('unauthorized', AuthErrorCode.INVALID_CREDENTIALS, 'invalid username or password');
const invalidRefresh = () =>
  new DomainError('unauthorized', AuthErrorCode.REFRESH_TOKEN_INVALID, 'the refresh token is invalid, expired or already used');
const disabled = () => new DomainError('unauthorized', AuthErrorCode.USER_DISABLED, 'this user is disabled');

/**
 * Password login and token handling. Access tokens are short-lived JWTs (claims sub, username, role, typ 'access',
 * gen = the user's token generation) checked by JwtStrategy for the global JwtAuthGuard; refresh tokens are random opaque strings stored only as
 * SHA-256 hashes, single use (each refresh revokes the one presented and issues a new pair). Presenting an
 * already-rotated token is treated as theft: every live refresh token of that user is revoked.
 */
@Injectable()
export class AuthService {
  constructor(
    private readonly users: UsersService,
    private readonly jwt: JwtService,
    private readonly config: AppConfig,
    private readonly throttle: LoginThrottle,
    private readonly tokens: RefreshTokensService,
  ) {}

  /**
   * Checks the password (`checkPassword`) and issues a token pair.
   */
  async login(username: string, password: string, remoteAddress?: string): Promise<TokenPairDto> {
    const user = await this.checkPassword(username, password, remoteAddress);
    await this.users.recordLogin(user.id);
    return this.issue(user);
  }

  /**
   * The enabled user with this username and password, under the login throttle (also used for HTTP Basic on the
   * API docs); throws 401 INVALID_CREDENTIALS (unknown, wrong or disabled alike) or 429 TOO_MANY_ATTEMPTS.
   */
  async checkPassword(username: string, password: string, remoteAddress?: string): Promise<User> {
    const verdict = this.throttle.check(username, remoteAddress);
    if (!verdict.allowed) {
      throw new DomainError('too_many', AuthErrorCode.TOO_MANY_ATTEMPTS, `too many failed logins; retry in ${verdict.retryAfterSeconds} s`, {
        retryAfterSeconds: verdict.retryAfterSeconds,
      });
    }
    // A username under attack from many addresses is slowed down (a little, capped), never locked.
    if (verdict.delayMs > 0) await sleep(verdict.delayMs);
    // A disabled user is answered like a wrong password (same status, code, message, and the same argon2 verify
    // first), so a login attempt never tells whether an account exists, is disabled, or has this password.
    const user = await this.users.verifyCredentials(username, password);
    if (!user || !user.enabled) {
      this.throttle.recordFailure(username, remoteAddress);
      throw invalidCredentials();
    }
    this.throttle.recordSuccess(username, remoteAddress);
    return user;
  }

  /** Exchanges a live refresh token for a new pair; the presented token is revoked atomically (single use). */
  async refresh(refreshToken: string): Promise<TokenPairDto> {
    const hash = sha256(refreshToken);
    const userId = await this.tokens.consume(hash);
    if (!userId) {
      await this.revokeAllOnReuse(hash);
      throw invalidRefresh();
    }
    const user = await this.users.findById(userId);
    if (!user) throw invalidRefresh();
    if (!user.enabled) throw disabled();
    return this.issue(user);
  }

  /**
   * Revokes the refresh token and every access token of its user issued so far (the user's other sessions keep
   * their refresh tokens and get new access tokens from them). Unknown or already revoked tokens are not an error
   * (logout is idempotent).
   */
  async logout(refreshToken: string): Promise<void> {
    const userId = await this.tokens.revoke(sha256(refreshToken));
    if (userId) await this.users.revokeAccessTokens(userId);
  }

  private async issue(user: User): Promise<TokenPairDto> {
    const claims: AccessTokenClaims = { sub: user.id, username: user.username, role: user.role, typ: 'access', gen: user.tokenGeneration };
    const accessToken = await this.jwt.signAsync(claims);
    const refreshToken = randomBytes(32).toString('base64url');
    await this.tokens.issue(user.id, sha256(refreshToken), new Date(Date.now() + this.config.auth.refreshTtl * 1000));
    return { accessToken, refreshToken, tokenType: 'Bearer', expiresIn: this.config.auth.accessTtl };
  }

  /**
   * A revoked-but-unexpired token presented again means it leaked: end every session of that user, refresh tokens
   * and access tokens alike.
   */
  private async revokeAllOnReuse(hash: string): Promise<void> {
    const old = await this.tokens.findUnexpired(hash);
    if (old?.revokedAt) await this.users.endSessions(old.userId);
  }
}
