import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { JwtService } from '@nestjs/jwt';
import type { Request } from 'express';
import { DomainError } from '../errors/domain-error';
import { Role } from './role';
import { IS_PUBLIC_KEY, Principal, ROLE_RANK, ROLES_KEY } from './auth.decorators';
import { PrincipalCache } from '../../modules/users/principal-cache.service';

export interface AccessTokenClaims {
  sub: string;
  username: string;
  role: Role;
  typ: 'access';
}

/**
 * Global guard, closed by default: a route is reachable only when it is `@Public()` or carries `@Auth(role)`
 * and the caller presents a valid access token of a user who is enabled and has at least that role.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  /**
   * Verified tokens → claims until they expire: HMAC verification costs ~1 ms of CPU, which dominated a cached
   * lookup like GET /clients/by-mac. Bounded; the oldest entry goes first. Disabling a user still takes effect at
   * once (PrincipalCache is consulted on every request).
   */
  private readonly verified = new Map<string, { claims: AccessTokenClaims; expiresAtMs: number }>();
  private static readonly MAX_VERIFIED = 5000;

  constructor(
    private readonly reflector: Reflector,
    private readonly jwt: JwtService,
    private readonly principals: PrincipalCache,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const targets = [ctx.getHandler(), ctx.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC_KEY, targets)) return true;
    const minRole = this.reflector.getAllAndOverride<Role | undefined>(ROLES_KEY, targets);
    if (!minRole) throw new DomainError('forbidden', 'ROUTE_NOT_ANNOTATED', 'this route has no access rule');

    const req = ctx.switchToHttp().getRequest<Request & { user?: Principal }>();
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m) throw new DomainError('unauthorized', 'TOKEN_MISSING', 'a Bearer access token is required');
    const claims = await this.verify(m[1]);
    if (claims.typ !== 'access') throw new DomainError('unauthorized', 'TOKEN_INVALID', 'not an access token');
    const state = await this.principals.get(claims.sub);
    if (!state || !state.enabled) throw new DomainError('unauthorized', 'USER_DISABLED', 'this user is disabled or gone');
    if (ROLE_RANK[state.role] < ROLE_RANK[minRole]) {
      throw new DomainError('forbidden', 'ROLE_TOO_LOW', `this action needs role ${minRole} or higher`);
    }
    req.user = { id: claims.sub, username: state.username, role: state.role };
    return true;
  }

  private async verify(token: string): Promise<AccessTokenClaims> {
    const hit = this.verified.get(token);
    if (hit && hit.expiresAtMs > Date.now()) return hit.claims;
    if (hit) this.verified.delete(token);
    let claims: AccessTokenClaims & { exp?: number };
    try {
      claims = await this.jwt.verifyAsync<AccessTokenClaims & { exp?: number }>(token);
    } catch {
      throw new DomainError('unauthorized', 'TOKEN_INVALID', 'the access token is invalid or expired');
    }
    if (claims.exp) {
      if (this.verified.size >= AuthGuard.MAX_VERIFIED) this.verified.delete(this.verified.keys().next().value!);
      this.verified.set(token, { claims, expiresAtMs: claims.exp * 1000 });
    }
    return claims;
  }
}
