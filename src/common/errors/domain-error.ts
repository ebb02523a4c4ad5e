/**
 * Every expected failure in DLS is a DomainError with a stable SCREAMING_SNAKE code. Services throw these, never
 * HTTP exceptions, so the DHCP/TFTP servers can call the same services. `DomainErrorFilter` maps kinds to statuses.
 */
export type DomainErrorKind =
  | 'validation' // 400
  | 'unauthorized' // 401
  | 'forbidden' // 403
  | 'not_found' // 404
  | 'conflict' // 409
  | 'precondition_failed' // 412
  | 'too_many' // 429
  | 'insufficient_storage' // 507
  | 'unavailable'; // 503

export class DomainError extends Error {
  constructor(
    readonly kind: DomainErrorKind,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class NotFoundError extends DomainError {
  constructor(entity: string, id: string, code = `${entity.toUpperCase().replace(/[^A-Z]+/g, '_')}_NOT_FOUND`) {
    super('not_found', code, `${entity} ${id} not found`, { entity, id });
  }
}

export class ConflictError extends DomainError {
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super('conflict', code, message, details);
  }
}

export class ValidationError extends DomainError {
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super('validation', code, message, details);
  }
}

/**
 * A conditional write whose precondition no longer holds: the caller edited a version of the record that has
 * changed since (HTTP: `If-Match` naming an ETag other than the current one → 412). `precondition` names what failed.
 */
export class PreconditionFailedError extends DomainError {
  constructor(message: string, details: { precondition: string } & Record<string, unknown>) {
    super('precondition_failed', 'PRECONDITION_FAILED', message, details);
  }
}
