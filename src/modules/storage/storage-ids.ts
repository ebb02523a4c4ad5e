import { StorageError, StorageErrorCode } from './storage.errors';

/** Strict lower/upper-case RFC 4122 textual UUID (8-4-4-4-12 hex). Ids are validated before reaching a path or CLI. */
export const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/**
 * Validates an id and returns it lower-cased (ZFS user-property values and dataset names are kept lower case so the
 * same id always maps to the same dataset/path).
 */
export function assertUuid(value: unknown, what: string): string {
  if (typeof value !== 'string' || !UUID_RE.test(value)) {
    throw new StorageError(StorageErrorCode.INVALID_NAME, `${what} must be a UUID`, { what });
  }
  return value.toLowerCase();
}
