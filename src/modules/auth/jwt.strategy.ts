import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { Request } from 'express';
import { Strategy } from 'passport-jwt';
import { Principal } from '@common/auth/auth.decorators';
import { bearerToken, JWT_STRATEGY } from '@common/auth/jwt-auth.guard';
import { Role } from '@common/auth/role';
import { DomainError } from '@common/errors/domain-error';
import { PrincipalCache } from '../users';
import { AuthErrorCode } from './auth.errors';
import { JWT_ISSUER, JWT_SECRET } from './jwt-secret.module';

/** Claims of an access token (AuthService signs them; `iss`, `iat` and `exp` are added by the signer). */
export interface AccessTokenClaims {
  sub: string;
  username: string;
  role: Role;
  typ: 'access';
  /** The user's token generation at issue; a token whose generation is no longer the user's is revoked. */
  gen: number;
}

type VerifiedClaims = Omit<AccessTokenClaims, 'gen'> & { gen?: number; exp?: number };

/**
 * The passport 'jwt' strategy behind the global JwtAuthGuard: verifies the Bearer access token (HMAC key and issuer
 * shared with the signer through JwtSecretModule), then asks PrincipalCache whether the user is still enabled, what
 * its role is now and whether the token's generation is still the user's, so a disabled, demoted or logged-out user
 * (or one whose password changed) loses access at once.
 *
 * Verified tokens are remembered until they expire: HMAC verification costs ~1 ms of CPU, which dominated a cached
 * lookup like GET /clients/by-mac. Bounded; the oldest entry goes first. The principal check still runs every time.
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, JWT_STRATEGY) {
  static readonly MAX_VERIFIED = 5000;
  private readonly verified = new Map<string, VerifiedClaims>();

  constructor(
    @Inject(JWT_SECRET) secret: string,
    private readonly principals: PrincipalCache,
  ) {
    super({ jwtFromRequest: bearerToken, secretOrKey: secret, issuer: JWT_ISSUER, passReqToCallback: true });
  }

  /**
   * A token verified before skips passport-jwt's verification; any other goes through it (and then `validate`).
   * `this` is passport's per-request copy of the strategy, which alone has `success` and `error`.
   */
  override authenticate(req: Request, options?: unknown): void {
    const token = bearerToken(req);
    const hit = token ? this.verified.get(token) : undefined;
    if (hit && hit.exp! * 1000 > Date.now()) {
      this.principalFor(hit).then(
        (p) => this.success(p),
        (e: unknown) => this.error(e as Error),
      );
      return;
    }
    if (hit) this.verified.delete(token!);
    super.authenticate(req, options);
  }

  /** Called by passport-jwt with the claims of a freshly verified token. */
  validate(req: Request, claims: VerifiedClaims): Promise<Principal> {
    if (claims.exp) {
      if (this.verified.size >= JwtStrategy.MAX_VERIFIED) this.verified.delete(this.verified.keys().next().value!);
      this.verified.set(bearerToken(req)!, claims);
    }
    return this.principalFor(claims);
  }

  private async principalFor(claims: VerifiedClaims): Promise<Principal> {
    if (claims.typ !== 'access') throw new DomainError('unauthorized', 'TOKEN_INVALID', 'not an access token');
    const state = await this.principals.get(claims.sub);
    if (!state || !state.enabled) throw new DomainError('unauthorized', AuthErrorCode.USER_DISABLED, 'this user is disabled or gone');
    // Tokens signed before generations existed carry none: they belong to generation 0.
    if ((claims.gen ?? 0) !== state.tokenGeneration) {
      throw new DomainError(
        'unauthorized',
        AuthErrorCode.TOKEN_REVOKED,
        'this access token was revoked (logout, password change or a leaked refresh token)',
      );
    }
    return { id: claims.sub, username: state.username, role: state.role };
  }
}
