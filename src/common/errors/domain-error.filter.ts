import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';
import { DomainError, DomainErrorKind } from './domain-error';
import { mapDatabaseError } from './pg-errors';
import { logLine } from '../logging/log-line';
import { loggedUrl } from '../logging/logging.module';

/** Exhaustive: adding a kind without a status fails to compile. */
export function statusForKind(kind: DomainErrorKind): number {
  switch (kind) {
    case 'validation':
      return HttpStatus.BAD_REQUEST;
    case 'unauthorized':
      return HttpStatus.UNAUTHORIZED;
    case 'forbidden':
      return HttpStatus.FORBIDDEN;
    case 'not_found':
      return HttpStatus.NOT_FOUND;
    case 'conflict':
      return HttpStatus.CONFLICT;
    case 'precondition_failed':
      return HttpStatus.PRECONDITION_FAILED;
    case 'too_many':
      return HttpStatus.TOO_MANY_REQUESTS;
    case 'insufficient_storage':
      return HttpStatus.INSUFFICIENT_STORAGE;
    case 'unavailable':
      return HttpStatus.SERVICE_UNAVAILABLE;
    default: {
      const never: never = kind;
      return never;
    }
  }
}

/** Body of every error answer: `{ statusCode, error, code, message, details? }`. */
export interface ErrorBody {
  statusCode: number;
  error: string;
  code: string;
  message: string | string[];
  details?: Record<string, unknown>;
  correlationId?: string;
}

/**
 * The one global filter: DomainErrors and database integrity errors get their status and message; Nest's own
 * HttpExceptions (validation pipe, malformed JSON, guards) keep theirs; anything else is a bare 500 whose
 * details go only to the log, under a correlation id.
 */
@Catch()
export class DomainErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger(DomainErrorFilter.name);

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const res = ctx.getResponse<Response>();
    const req = ctx.getRequest<Request>();
    const body = this.toBody(exception, req);
    if (res.headersSent) {
      res.end();
      return;
    }
    res.status(body.statusCode).json(body);
  }

  toBody(exception: unknown, req?: Request): ErrorBody {
    const domain = exception instanceof DomainError ? exception : mapDatabaseError(exception);
    if (domain) {
      const statusCode = statusForKind(domain.kind);
      if (statusCode >= 500) this.logger.warn(`${domain.code}: ${domain.message}`);
      return { statusCode, error: HttpStatus[statusCode] ?? 'Error', code: domain.code, message: domain.message, details: domain.details };
    }
    if (exception instanceof HttpException) {
      const statusCode = exception.getStatus();
      const r = exception.getResponse();
      const message = typeof r === 'string' ? r : ((r as { message?: string | string[] }).message ?? exception.message);
      const code = (r as { code?: string }).code ?? String(HttpStatus[statusCode] ?? 'HTTP_ERROR');
      // The validation pipe's `details.fields` (which field said what) reach the client: forms put each next to its field.
      const details = typeof r === 'object' ? (r as { details?: Record<string, unknown> }).details : undefined;
      return { statusCode, error: HttpStatus[statusCode] ?? 'Error', code, message, ...(details ? { details } : {}) };
    }
    const correlationId = randomUUID();
    const requestId = (req as { id?: unknown } | undefined)?.id;
    this.logger.error(
      logLine(
        `unhandled error ${correlationId} on ${req?.method ?? '?'} ${loggedUrl(req?.originalUrl)}: ${
          exception instanceof Error ? exception.stack : String(exception)
        }`,
        { correlationId, requestId: typeof requestId === 'string' ? requestId : undefined },
      ),
    );
    return {
      statusCode: 500,
      error: 'Internal Server Error',
      code: 'INTERNAL',
      message: 'internal error',
      correlationId,
    };
  }
}
