import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { ErrorBody } from './domain-error.filter';

/**
 * The body of every error answer of the API, as the global filter ({@link ErrorBody}) writes it: one named OpenAPI
 * schema (`ApiErrorResponse`) that every documented 4xx/5xx refers to (see `ApiErrors`).
 */
export class ApiErrorResponse implements ErrorBody {
  @ApiProperty({ description: 'the HTTP status again', example: 404 })
  statusCode: number;

  @ApiProperty({ description: 'the status by name (NOT_FOUND, BAD_REQUEST, PRECONDITION_FAILED, …)', example: 'NOT_FOUND' })
  error: string;

  @ApiProperty({
    description: 'stable SCREAMING_SNAKE code of what went wrong (VALIDATION_FAILED, CLIENT_NOT_FOUND, …)',
    example: 'CLIENT_NOT_FOUND',
  })
  code: string;

  @ApiProperty({
    description: 'what went wrong, for people; input validation gives one message per problem, each naming its field',
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
    example: 'client 0b3e7a56-5a6f-4c57-9d43-7d4a2b1c0f11 not found',
  })
  message: string | string[];

  @ApiPropertyOptional({
    description:
      'machine-readable particulars: `field` or `fields` for input errors, `precondition` for 412, the conflicting record for 409; ' +
      'a 409 about something clients use names them: `clients` ([{ id, hostname }], at most 50) and `count` (all of them)',
    type: 'object',
    additionalProperties: true,
  })
  details?: Record<string, unknown>;

  @ApiPropertyOptional({ description: 'only on 500: the id under which the server logged the failure', format: 'uuid' })
  correlationId?: string;
}
