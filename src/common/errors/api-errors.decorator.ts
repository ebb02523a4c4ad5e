import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiResponse, getSchemaPath } from '@nestjs/swagger';
import { ApiErrorResponse } from './api-error-response.dto';

/** What each error status means when a route says nothing more specific. */
const GENERIC: Record<ApiErrorStatus, string> = {
  400: 'invalid input: VALIDATION_FAILED (`message` names each field) or a more specific code',
  401: 'missing, invalid or revoked access token',
  403: 'the role is not enough for this route',
  404: 'no such record',
  409: 'the request conflicts with the current state',
  412: 'PRECONDITION_FAILED: `If-Match` names a version other than the current one (GET the record again and redo the change)',
  429: 'too many attempts; see Retry-After',
  503: 'a part DLS needs (database, storage, tgtd) is unavailable',
  507: 'the storage would drop below DLS_STORAGE_MIN_FREE',
};

export type ApiErrorStatus = 400 | 401 | 403 | 404 | 409 | 412 | 429 | 503 | 507;

/**
 * Documents a route's error answers, each with the global error body (`ApiErrorResponse`). Keys are statuses; a
 * value says what the status means on this route (the codes it carries), or `true` for the generic meaning:
 *
 * ```ts
 * @ApiErrors({ 400: true, 404: 'IMAGE_NOT_FOUND', 409: 'IMAGE_NAME_TAKEN' })
 * ```
 *
 * 401 and 403 come with `@Auth(role)`; test/e2e/api-contract.e2e-spec.ts fails for a route that misses one it needs.
 * Works on a controller class too (every route gets them; a route's own entry for the same status is merged).
 * Routes that answer errors in another format (the iPXE scripts' text) document those with `ApiResponse` instead.
 */
export function ApiErrors(errors: Partial<Record<ApiErrorStatus, string | true>>): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ApiExtraModels(ApiErrorResponse),
    ...Object.entries(errors).map(([status, what]) =>
      ApiResponse({
        status: Number(status),
        description: what === true ? GENERIC[Number(status) as ApiErrorStatus] : what,
        // Spelled out rather than `type:` so it stays JSON on routes whose @ApiProduces says otherwise (iPXE
        // scripts, event streams): the global filter always answers JSON.
        content: { 'application/json': { schema: { $ref: getSchemaPath(ApiErrorResponse) } } },
      }),
    ),
  );
}
