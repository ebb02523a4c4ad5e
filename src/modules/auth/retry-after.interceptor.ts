import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import type { Response } from 'express';
import { catchError, Observable, throwError } from 'rxjs';
import { DomainError } from '@common/errors/domain-error';

/**
 * Sets `Retry-After` (RFC 9110 §10.2.3, delay in seconds) on 429 answers whose DomainError carries
 * `details.retryAfterSeconds`; the global filter then writes the body.
 */
@Injectable()
export class RetryAfterInterceptor implements NestInterceptor {
  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(
      catchError((err: unknown) => {
        const seconds = err instanceof DomainError && err.kind === 'too_many' ? err.details?.retryAfterSeconds : undefined;
        if (typeof seconds === 'number') ctx.switchToHttp().getResponse<Response>().setHeader('Retry-After', String(seconds));
        return throwError(() => err);
      }),
    );
  }
}
