import { applyDecorators, createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth } from '@nestjs/swagger';
import { ApiErrors } from '../errors/api-errors.decorator';
import { Role } from './role';

export const IS_PUBLIC_KEY = 'dls:isPublic';
export const ROLES_KEY = 'dls:minRole';

/** Route needs no token (login, health, iPXE scripts). Everything else is closed by default. */
export const Public = () => SetMetadata(IS_PUBLIC_KEY, true);

/** Roles are ordered: viewer < operator < admin. */
export const ROLE_RANK: Record<Role, number> = { [Role.Viewer]: 1, [Role.Operator]: 2, [Role.Admin]: 3 };

/**
 * The route needs a valid access token of at least `minRole`; also documents it in Swagger.
 * Use on a controller class or a handler (the handler wins).
 */
export const Auth = (minRole: Role) =>
  applyDecorators(
    SetMetadata(ROLES_KEY, minRole),
    ApiBearerAuth(),
    ApiErrors({ 401: 'missing, invalid or revoked access token', 403: `needs role ${minRole} or higher` }),
  );

/** The authenticated principal, as put on the request by the JWT guard. */
export interface Principal {
  id: string;
  username: string;
  role: Role;
}

export const CurrentUser = createParamDecorator((_: unknown, ctx: ExecutionContext): Principal | undefined => {
  return ctx.switchToHttp().getRequest<{ user?: Principal }>().user;
});
