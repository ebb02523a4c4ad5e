import { QueryFailedError } from 'typeorm';
import { ConflictError, DomainError, ValidationError } from './domain-error';

/** Human text for constraint names, so a 409 says what clashed ("MAC address … is already registered"). */
const CONSTRAINT_MESSAGES: Record<string, (detail: string) => string> = {
  clients_mac_address_key: (d) => `MAC address ${keyValue(d)} is already registered`,
  images_name_key: (d) => `an image named "${keyValue(d)}" already exists`,
  users_username_key: (d) => `user "${keyValue(d)}" already exists`,
  network_ranges_name_key: (d) => `a network range named "${keyValue(d)}" already exists`,
  network_ranges_cidr_excl: (d) => cidrOverlapMessage(d),
  uq_clients_ip_address: (d) => `ipAddress ${keyValue(d)} is already reserved for another client`,
  image_snapshots_image_id_name_key: () => 'this image already has a version with that name',
  uq_image_snapshots_published: () => 'another version of this image is already published',
  uq_boot_sessions_open_per_client: () => 'this client already has an open boot session',
  clients_pinned_snapshot_id_fkey: () => 'the version is still pinned by a client',
  client_groups_pinned_snapshot_id_fkey: () => 'the version is still pinned by a client group',
  clients_group_id_fkey: () => 'the client group still has clients',
  client_disks_snapshot_id_fkey: () => 'client disks still depend on this version',
  network_ranges_pool_check: () => 'poolStart and poolEnd must both lie inside the CIDR, with poolStart <= poolEnd',
};

/** PostgreSQL SQLSTATE codes DLS reacts to (Appendix A of the PostgreSQL manual). */
export const PG_UNIQUE_VIOLATION = '23505';
export const PG_EXCLUSION_VIOLATION = '23P01';

/** True for a unique_violation (23505), optionally of one constraint: the "someone else inserted it first" race. */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  if (!(err instanceof QueryFailedError)) return false;
  const e = err.driverError as { code?: string; constraint?: string };
  return e.code === PG_UNIQUE_VIOLATION && (constraint === undefined || e.constraint === constraint);
}

/** True for an exclusion_violation (23P01) of `constraint`: a row that clashes with another one (overlapping CIDRs). */
export function isExclusionViolation(err: unknown, constraint: string): boolean {
  if (!(err instanceof QueryFailedError)) return false;
  const e = err.driverError as { code?: string; constraint?: string };
  return e.code === PG_EXCLUSION_VIOLATION && e.constraint === constraint;
}

/** The `detail` text PostgreSQL attached to a failed query ("Key (…)=(…) …"), or ''. */
export function pgErrorDetail(err: unknown): string {
  return err instanceof QueryFailedError ? ((err.driverError as { detail?: string }).detail ?? '') : '';
}

function keyValue(detail: string): string {
  // "Key (mac_address)=(52:54:00:12:34:56) already exists."
  const m = /=\((.*)\)/.exec(detail);
  return m ? m[1] : '?';
}

/** "Key (cidr)=(10.0.7.0/24) conflicts with existing key (cidr)=(10.0.0.0/16)." → what overlapped what. */
export function cidrOverlapMessage(detail: string): string {
  const m = /^Key \(cidr\)=\(([0-9./]+)\) conflicts with existing key \(cidr\)=\(([0-9./]+)\)/.exec(detail);
  return m ? `cidr ${m[1]} overlaps another network range (${m[2]})` : 'the CIDR overlaps an existing network range';
}

/**
 * Translates PostgreSQL integrity errors (unique, FK, check, exclusion, invalid text) into DomainErrors.
 * Returns undefined for anything else (a real fault → 500).
 */
export function mapDatabaseError(err: unknown): DomainError | undefined {
  if (!(err instanceof QueryFailedError)) return undefined;
  const e = err.driverError as { code?: string; constraint?: string; detail?: string; message?: string; column?: string };
  const constraint = e.constraint ?? '';
  const detail = e.detail ?? '';
  const msg = CONSTRAINT_MESSAGES[constraint]?.(detail);
  switch (e.code) {
    case PG_UNIQUE_VIOLATION:
      return new ConflictError('UNIQUE_VIOLATION', msg ?? `duplicate value: ${detail || constraint}`, { constraint });
    case PG_EXCLUSION_VIOLATION:
      return new ConflictError('EXCLUSION_VIOLATION', msg ?? `conflicts with an existing row (${constraint})`, { constraint });
    case '23503': // foreign_key_violation
      return new ConflictError('FOREIGN_KEY_VIOLATION', fkMessage(detail, constraint), { constraint });
    case '23514': // check_violation
      return new ConflictError('CHECK_VIOLATION', msg ?? `value violates ${constraint}`, { constraint });
    case '40P01': // deadlock_detected
    case '40001': // serialization_failure
      // A transient clash with a concurrent transaction (PostgreSQL rolled this one back): nothing was written.
      return new ConflictError('CONCURRENT_CHANGE', 'the change clashed with a concurrent one and was not applied; retry it');
    case '23502': // not_null_violation
      return new ValidationError('NOT_NULL_VIOLATION', `${e.column ?? 'a field'} is required`);
    case '55P03': // lock_not_available: a `lock_timeout` ran out while another request held the row
      return new ConflictError('LOCK_TIMEOUT', 'the record is locked by another request; try again', { constraint });
    case '22P02': // invalid_text_representation
    case '22007': // invalid_datetime_format
    case '22003': // numeric_value_out_of_range
    case '22001': // string_data_right_truncation
    case '22021': // character_not_in_repertoire (e.g. a NUL byte in text)
    case '22P05': // untranslatable_character (e.g. \u0000 in jsonb)
      return new ValidationError('INVALID_VALUE', e.message ?? 'invalid value');
    default:
      return undefined;
  }
}

function fkMessage(detail: string, constraint: string): string {
  // "Key (assigned_image_id)=(…) is not present in table "images"." / "… is still referenced from table "clients"."
  const m = /Key \((\w+)\)=\(([^)]*)\) is (not present in|still referenced from) table "(\w+)"/.exec(detail);
  if (!m) return `reference error (${constraint})`;
  return m[3] === 'not present in' ? `${m[1]} ${m[2]} does not exist in ${m[4]}` : `${m[2]} is still used by ${m[4]}`;
}
