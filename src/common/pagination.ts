import { ParseUUIDPipe } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, Max, Min } from 'class-validator';
import { ValidationError } from './errors/domain-error';

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 500;

/**
 * `?limit=&offset=` of every list endpoint. Query strings arrive as text and implicit conversion is off, so the
 * numbers are converted explicitly (a non-number becomes NaN and fails `IsInt`, i.e. a 400 naming the field).
 */
export class PaginationQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT })
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_LIMIT)
  limit: number = DEFAULT_LIMIT;

  @ApiPropertyOptional({ minimum: 0, default: 0 })
  @Type(() => Number)
  @IsInt()
  @Min(0)
  offset: number = 0;
}

/** One page of a list: the rows asked for and how many match in total. */
export interface Page<T> {
  items: T[];
  total: number;
}

/** Maps the rows of a page, keeping its total. */
export function mapPage<T, R>(page: Page<T>, fn: (row: T) => R): Page<R> {
  return { items: page.items.map(fn), total: page.total };
}

/**
 * Query-string boolean: `true`/`1` and `false`/`0`; anything else is left as is so `IsBoolean` rejects it.
 * Use as `@Transform(queryBoolean)`.
 */
export const queryBoolean = ({ value }: { value: unknown }): unknown => {
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  return value;
};

/** Base for Swagger page schemas: subclasses redeclare `items` with their own item type. */
export class PageResponseDto {
  @ApiProperty({ description: 'rows matching the filters in total (ignoring limit/offset)', example: 1 })
  total: number;
}

/**
 * Pipe for `:id`-style path parameters: a non-UUID answers 400 naming the parameter (not a 404, not a 500 from
 * PostgreSQL's uuid parser). Usage: `@Param('id', uuidParam('id')) id: string`.
 */
export function uuidParam(name: string): ParseUUIDPipe {
  return new ParseUUIDPipe({
    exceptionFactory: () => new ValidationError('INVALID_UUID', `${name} must be a UUID`, { field: name }),
  });
}
