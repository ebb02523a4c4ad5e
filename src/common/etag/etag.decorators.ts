import {
  applyDecorators,
  CallHandler,
  createParamDecorator,
  ExecutionContext,
  Injectable,
  NestInterceptor,
  Type,
  UseInterceptors,
} from '@nestjs/common';
import { ApiHeader, ApiResponse } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { map, Observable } from 'rxjs';
import { ApiErrors } from '../errors/api-errors.decorator';
import { etagOf, IF_MATCH, VersionPrecondition } from './etag';

/** Sets `ETag` from the handler's result, a response DTO with the record's row `version`. */
@Injectable()
export class ETagInterceptor implements NestInterceptor {
  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(
      map((body: unknown) => {
        const version = (body as { version?: unknown } | null)?.version;
        if (typeof version !== 'number')
          throw new Error(`@ETagged route returned no numeric version (${ctx.getClass().name}.${ctx.getHandler().name})`);
        ctx.switchToHttp().getResponse<Response>().setHeader('ETag', etagOf(version));
        return body;
      }),
    );
  }
}

/**
 * A route answering one editable record (GET /things/:id, PATCH, POST create): sends its `ETag` (`"<version>"`) and
 * documents the response — `type` and the `ETag` header — under `status` (200, or 201 for a create). The result
 * must carry `version`. Pair the PATCH with {@link IfMatch}.
 */
export function ETagged(type: Type<{ version: number }>, status: 200 | 201 = 200): MethodDecorator {
  return applyDecorators(
    UseInterceptors(ETagInterceptor),
    ApiResponse({
      status,
      type,
      headers: {
        ETag: {
          description:
            'the version of this record (`"<version>"`, also the body\'s `version`); send it back in If-Match to edit exactly this version',
          schema: { type: 'string', example: '"3"' },
        },
      },
    }),
  );
}

const ifMatchParam = createParamDecorator((_: unknown, ctx: ExecutionContext): VersionPrecondition | undefined =>
  VersionPrecondition.parse(ctx.switchToHttp().getRequest<Request>().headers['if-match']),
);

/**
 * Handler parameter: the request's `If-Match` as a {@link VersionPrecondition} (undefined when absent; 400
 * INVALID_IF_MATCH when malformed), for the service to check against the row it locks. Also documents the header and
 * the 412 on the route:
 *
 * ```ts
 * @Patch(':id')
 * @ETagged(ThingResponseDto)
 * update(@Param('id') id: string, @Body() dto: UpdateThingDto, @IfMatch() ifMatch?: VersionPrecondition)
 * ```
 */
export function IfMatch(): ParameterDecorator {
  return (target, key, index) => {
    ifMatchParam()(target, key, index);
    const descriptor = key === undefined ? undefined : Object.getOwnPropertyDescriptor(target, key);
    if (!descriptor || key === undefined) return;
    applyDecorators(
      ApiHeader({
        name: IF_MATCH,
        required: false,
        description:
          'the ETag this change was made against: the change is made only while the record is still at that version (412 otherwise); ' +
          'without If-Match the change is made whatever the version; "*" = any version; a malformed value is a 400',
        schema: { type: 'string', example: '"3"' },
      }),
      ApiErrors({ 412: true }),
    )(target, key, descriptor);
  };
}
