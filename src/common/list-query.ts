import { applyDecorators } from '@nestjs/common';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Length, ValidationArguments, ValidateBy } from 'class-validator';

/** One list's sortable fields: API name → SQL expression (column of the query's alias). */
export type SortColumns = Readonly<Record<string, string>>;

export interface SortOrder {
  column: string;
  direction: 'ASC' | 'DESC';
}

const SORT_SYNTAX = /^(-?)([A-Za-z][A-Za-z0-9]{0,40})(?::(asc|desc))?$/i;

/**
 * Parses `sort` — `field`, `-field` (descending) or `field:asc|desc` — against a whitelist. Returns null for a
 * malformed value or an unknown field (the `@SortQuery` validator has already answered 400 for those).
 */
export function parseSort(value: string | undefined, columns: SortColumns): SortOrder | null {
  if (value === undefined) return null;
  const m = SORT_SYNTAX.exec(value);
  if (!m || !Object.prototype.hasOwnProperty.call(columns, m[2])) return null;
  const desc = m[1] === '-' || m[3]?.toLowerCase() === 'desc';
  if (m[1] === '-' && m[3]) return null; // "-name:asc" says two things
  return { column: columns[m[2]], direction: desc ? 'DESC' : 'ASC' };
}

/**
 * `?sort=` on a list query DTO: validated against the list's fields (400 naming the allowed ones) and documented
 * with them in Swagger.
 */
export function SortQuery(columns: SortColumns, fallback: string): PropertyDecorator {
  const names = Object.keys(columns);
  return applyDecorators(
    ApiPropertyOptional({
      description: `sort by ${names.join(', ')}: \`field\`, \`-field\` (descending) or \`field:asc|desc\`; default ${fallback}`,
      example: `-${names[0]}`,
    }),
    IsOptional(),
    IsString(),
    Length(1, 64),
    ValidateBy({
      name: 'isSort',
      validator: {
        validate: (v: unknown) => typeof v === 'string' && parseSort(v, columns) !== null,
        defaultMessage: (a?: ValidationArguments) =>
          `${a?.property ?? 'sort'} must be one of ${names.join(', ')}, optionally -field or field:asc|desc`,
      },
    }),
  );
}

/** `?q=` on a list query DTO (a prefix search; each list says what it matches). */
export function SearchQuery(description: string): PropertyDecorator {
  return applyDecorators(ApiPropertyOptional({ description, maxLength: 100 }), IsOptional(), IsString(), Length(1, 100));
}

/** `LIKE` pattern for "starts with `text`" (wildcards escaped; `\` is PostgreSQL's default LIKE escape). */
export function prefixPattern(text: string): string {
  return `${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
