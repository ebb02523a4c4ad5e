import { ExecutionContext, Inject, Injectable, Optional } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import type { Request } from 'express';
import { DomainError } from '../errors/domain-error';
import { IS_PUBLIC_KEY, Principal, ROLE_RANK, ROLES_KEY } from './auth.decorators';
import { Role } from './role';
import { STREAM_TICKET_KEY, STREAM_TICKETS, StreamTicketVerifier } from './stream-ticket';

/** Name of the passport strategy that turns a Bearer access token into a `Principal` (JwtStrategy, auth module). */
export const JWT_STRATEGY = 'jwt';

/** The Bearer token of the request's Authorization header, or null when there is none. */
export const bearerToken = (req: Request): string | null => /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? null;

/**
 * Global guard, closed by default: a route is reachable only when it is `@Public()` or carries `@Auth(role)`
 * and the caller presents a valid access token (checked by the passport 'jwt' strategy, which also rejects
 * disabled users) of a user with at least that role. Passport's failures become the stable TOKEN_* codes.
 * A route marked `@StreamTicketOnly()` (the event stream) takes a single-use stream ticket (`?ticket=`) instead.
 */
@Injectable()
export class JwtAuthGuard extends AuthGuard(JWT_STRATEGY) {
  constructor(
    private readonly reflector: Reflector,
    @Optional() @Inject(STREAM_TICKETS) private readonly tickets?: StreamTicketVerifier,
  ) {
    super();
  }

  override async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const targets = [ctx.getHandler(), ctx.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC_KEY, targets)) return true;
    const minRole = this.reflector.getAllAndOverride<Role | undefined>(ROLES_KEY, targets);
    if (!minRole) throw new DomainError('forbidden', 'ROUTE_NOT_ANNOTATED', 'this route has no access rule');
    const req = ctx.switchToHttp().getRequest<Request & { user: Principal }>();
    if (this.reflector.getAllAndOverride<boolean>(STREAM_TICKET_KEY, targets)) {
      const ticket = (req.query as Record<string, unknown>).ticket;
      const owner = typeof ticket === 'string' ? this.tickets?.consume(ticket) : null;
      if (!owner) throw new DomainError('unauthorized', 'TICKET_INVALID', 'a valid stream ticket (?ticket=, POST /api/v1/events/ticket) is required');
      req.user = owner;
    } else {
      await super.canActivate(ctx); // sets req.user, or throws via handleRequest
    }
    const { role } = req.user;
    if (ROLE_RANK[role] < ROLE_RANK[minRole]) {
      throw new DomainError('forbidden', 'ROLE_TOO_LOW', `this action needs role ${minRole} or higher`);
    }
    return true;
  }

  /** `err` is the strategy's own DomainError (USER_DISABLED, …); no user without one means no or a bad token. */
  override handleRequest<TUser = Principal>(err: unknown, user: TUser | false, _info: unknown, ctx: ExecutionContext): TUser {
    if (err) throw err as Error;
    if (user) return user;
    if (!bearerToken(ctx.switchToHttp().getRequest<Request>())) {
      throw new DomainError('unauthorized', 'TOKEN_MISSING', 'a Bearer access token is required');
    }
    throw new DomainError('unauthorized', 'TOKEN_INVALID', 'the access token is invalid or expired');
  }
}
