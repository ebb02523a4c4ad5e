import { CallHandler, ExecutionContext, HttpException, Injectable, NestInterceptor } from '@nestjs/common';
import { HTTP_CODE_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import type { Request, Response } from 'express';
import { catchError, from, mergeMap, Observable, throwError } from 'rxjs';
import { API_PREFIX } from '@common/api';
import type { Principal } from '@common/auth/auth.decorators';
import { DomainError } from '@common/errors/domain-error';
import { statusForKind } from '@common/errors/domain-error.filter';
import { mapDatabaseError } from '@common/errors/pg-errors';
import { actionOf, entityTypeOf } from './audit.naming';
import { AuditEntry, AuditService } from './audit.service';

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Status and code the global filter will answer for `err` (same mapping as DomainErrorFilter). */
function describeError(err: unknown): { status: number; code: string } {
  const domain = err instanceof DomainError ? err : mapDatabaseError(err);
  if (domain) return { status: statusForKind(domain.kind), code: domain.code };
  if (err instanceof HttpException) {
    const r = err.getResponse();
    const code = typeof r === 'object' && r && 'code' in r ? String(r.code) : `HTTP_${err.getStatus()}`;
    return { status: err.getStatus(), code };
  }
  return { status: 500, code: 'INTERNAL' };
}

function isEmpty(o: unknown): boolean {
  return o == null || (typeof o === 'object' && Object.keys(o).length === 0);
}

/**
 * Global interceptor (APP_INTERCEPTOR): one `audit_log` row per POST/PUT/PATCH/DELETE under /api/v1 that reached a
 * handler — successes and failures (validation, domain errors, 500s). The row is written once the outcome is known
 * and before the answer is sent, so a client reading the audit log right after its call sees the row. Calls the
 * guard rejects (401/403) never reach interceptors and are not recorded.
 *
 * action/entityType come from the controller path and handler name (`POST /api/v1/clients` → `clients.create`);
 * the entity id from the `:id` route param or the response body's `id`.
 */
@Injectable()
export class AuditInterceptor implements NestInterceptor {
  constructor(private readonly audit: AuditService) {}

  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (ctx.getType() !== 'http') return next.handle();
    const req = ctx.switchToHttp().getRequest<Request & { user?: Principal }>();
    const res = ctx.switchToHttp().getResponse<Response>();
    const path = req.originalUrl ?? req.url;
    if (!MUTATING.has(req.method) || !path.startsWith(`/${API_PREFIX}/`)) return next.handle();

    const cls = ctx.getClass();
    const handler = ctx.getHandler();
    const entityType = entityTypeOf(Reflect.getMetadata(PATH_METADATA, cls) as string | string[] | undefined, cls.name);
    const action = actionOf(entityType, handler.name);
    const entry = (statusCode: number, entityId: unknown, error?: string): AuditEntry => {
      const details: Record<string, unknown> = {};
      if (!isEmpty(req.body)) details.body = req.body;
      if (!isEmpty(req.params)) details.params = { ...req.params };
      if (error) details.error = error;
      // A handler may add what the request alone does not say (e.g. the clients a bulk action resolved to).
      const extra = (req as { auditDetails?: Record<string, unknown> }).auditDetails;
      if (extra) Object.assign(details, extra);
      return {
        action,
        entityType,
        entityId: typeof entityId === 'string' || typeof entityId === 'number' ? String(entityId) : null,
        userId: req.user?.id ?? null,
        username: req.user?.username ?? null,
        details: isEmpty(details) ? null : details,
        remoteAddress: req.ip ?? req.socket?.remoteAddress ?? null,
        statusCode,
      };
    };
    const successStatus = (): number => {
      if (res.statusCode !== 200) return res.statusCode; // set explicitly by the handler (@Res passthrough)
      const code = Reflect.getMetadata(HTTP_CODE_METADATA, handler) as number | undefined;
      return code ?? (req.method === 'POST' ? 201 : 200);
    };

    return next.handle().pipe(
      mergeMap(async (body: unknown) => {
        const id = req.params?.id ?? (body && typeof body === 'object' ? (body as { id?: unknown }).id : undefined);
        await this.audit.record(entry(successStatus(), id));
        return body;
      }),
      catchError((err: unknown) => {
        const { status, code } = describeError(err);
        return from(this.audit.record(entry(status, req.params?.id, code))).pipe(mergeMap(() => throwError(() => err)));
      }),
    );
  }
}
