import { plainToInstance } from 'class-transformer';
import { validateSync, ValidationError as ClassValidationError } from 'class-validator';
import { CreateClientDto } from './dto/create-client.dto';

export const BULK_MAX_ROWS = 1000;

/** One problem with one row of a bulk request; `index` is the row's position in the request array. */
export interface BulkRowError {
  index: number;
  field: string;
  message: string;
}

/**
 * Validates every row of a bulk body with the same rules (and options) as the global ValidationPipe, collecting
 * problems per row instead of stopping at the first. Returns the transformed rows when all are valid.
 */
export function validateBulkRows(body: unknown): { rows: CreateClientDto[]; errors: BulkRowError[]; shapeError?: string } {
  if (!Array.isArray(body)) return { rows: [], errors: [], shapeError: 'body must be a JSON array of clients' };
  if (body.length < 1 || body.length > BULK_MAX_ROWS) {
    return { rows: [], errors: [], shapeError: `body must hold 1 to ${BULK_MAX_ROWS} clients (got ${body.length})` };
  }
  const rows: CreateClientDto[] = [];
  const errors: BulkRowError[] = [];
  body.forEach((raw, index) => {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      errors.push({ index, field: '(row)', message: 'each row must be a JSON object' });
      rows.push(new CreateClientDto()); // keeps rows[i] aligned with body[i]
      return;
    }
    const dto = plainToInstance(CreateClientDto, raw, { enableImplicitConversion: false });
    const problems = validateSync(dto, { whitelist: true, forbidNonWhitelisted: true });
    for (const p of flatten(problems)) errors.push({ index, ...p });
    rows.push(dto);
  });
  return { rows, errors };
}

function flatten(errors: ClassValidationError[], parent = ''): { field: string; message: string }[] {
  const out: { field: string; message: string }[] = [];
  for (const e of errors) {
    const field = parent ? `${parent}.${e.property}` : e.property;
    for (const message of Object.values(e.constraints ?? {})) out.push({ field, message });
    if (e.children?.length) out.push(...flatten(e.children, field));
  }
  return out;
}
