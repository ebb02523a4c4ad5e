import { ArgumentMetadata, BadRequestException, ValidationError, ValidationPipe } from '@nestjs/common';
import { findControlCharacters } from './text/control-characters';

function flatten(errors: ValidationError[], parent = ''): { field: string; messages: string[] }[] {
  const out: { field: string; messages: string[] }[] = [];
  for (const e of errors) {
    const field = parent ? `${parent}.${e.property}` : e.property;
    if (e.constraints) out.push({ field, messages: Object.values(e.constraints) });
    if (e.children?.length) out.push(...flatten(e.children, field));
  }
  return out;
}

/** class-validator messages, each made to name its field (`tags.1: each value …`). */
function fieldMessages(fields: { field: string; messages: string[] }[]): string[] {
  return fields.flatMap((f) => f.messages.map((m) => (m.startsWith(f.field.split('.').pop()!) && !f.field.includes('.') ? m : `${f.field}: ${m}`)));
}

/** The one 400 shape of input validation: `message: string[]` (each naming its field) and `details.fields`. */
function validationFailed(message: string[], fields: { field: string; messages: string[] }[]): BadRequestException {
  return new BadRequestException({ statusCode: 400, error: 'Bad Request', code: 'VALIDATION_FAILED', message, details: { fields } });
}

/**
 * The global pipe. Before the DTO rules, every string and object key of the body, the query and the path
 * parameters — whatever the DTO, nested objects and arrays included, even where a handler takes `unknown` — is
 * checked for control characters (NUL and the other C0 controls except TAB, LF and CR; DEL): one 400 naming each
 * field, so no such value reaches PostgreSQL (which cannot store NUL) or a boot script.
 */
class DlsValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' || metadata.type === 'query' || metadata.type === 'param') {
      const problems = findControlCharacters(value, metadata.data ?? '');
      if (problems.length) {
        throw validationFailed(
          problems.map((p) => p.message),
          problems.map((p) => ({ field: p.field, messages: [p.message] })),
        );
      }
    }
    return super.transform(value, metadata);
  }
}

/**
 * The one ValidationPipe: control characters refused everywhere, then whitelist + forbidNonWhitelisted + transform.
 * Errors answer 400 with `message: string[]` (each naming its field) and `details.fields`.
 */
export function createValidationPipe(): ValidationPipe {
  return new DlsValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    exceptionFactory: (errors) => {
      const fields = flatten(errors);
      return validationFailed(fieldMessages(fields), fields);
    },
  });
}
