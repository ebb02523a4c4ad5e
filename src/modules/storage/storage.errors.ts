/**
 * Typed errors of the storage layer (zfs / plain-directory drivers, zfs and qemu-img adapters).
 *
 * Services map these codes to domain errors; nothing here knows about HTTP.
 */
export enum StorageErrorCode {
  /** The pool (or the driver's root) is missing, not ONLINE, or not writable. */
  POOL_UNAVAILABLE = 'POOL_UNAVAILABLE',
  /** The zfs-fuse daemon is not reachable (`Connection refused`, `Connection reset by peer`). */
  DAEMON_DOWN = 'DAEMON_DOWN',
  /** `dataset is busy` / `target is busy`: open files, a user hold, or the zfs-fuse unmount race. */
  DATASET_BUSY = 'DATASET_BUSY',
  NOT_FOUND = 'NOT_FOUND',
  /** The object exists, or exists in a different shape than requested (e.g. a client disk of another version). */
  ALREADY_EXISTS = 'ALREADY_EXISTS',
  /** Children, dependent clones or client disks prevent the operation; `details` names them. */
  HAS_DEPENDENTS = 'HAS_DEPENDENTS',
  /** A name, id or property failed the allow-list before reaching a CLI or a path. */
  INVALID_NAME = 'INVALID_NAME',
  NO_SPACE = 'NO_SPACE',
  /** A reflink was demanded on a filesystem that cannot do it. */
  REFLINK_UNSUPPORTED = 'REFLINK_UNSUPPORTED',
  /** Any other CLI failure; `details.infrastructure` is true for signal deaths (rc 134/137/255). */
  COMMAND_FAILED = 'COMMAND_FAILED',
  TIMEOUT = 'TIMEOUT',
  /** qemu-img refused the image: wrong/undeclared format, backing file, truncation or corruption. */
  IMAGE_FORMAT_INVALID = 'IMAGE_FORMAT_INVALID',
}

/** Free-form, JSON-serialisable context (command, stderr excerpt, dependent ids, reason, ...). */
export type StorageErrorDetails = Record<string, unknown>;

/** The one error type thrown by the storage layer. `code` is stable; `message` is for humans and logs. */
export class StorageError extends Error {
  constructor(
    readonly code: StorageErrorCode,
    message: string,
    readonly details?: StorageErrorDetails,
  ) {
    super(message);
    this.name = 'StorageError';
  }
}

/** Type guard; with `code`, also checks the code. */
export function isStorageError(err: unknown, code?: StorageErrorCode): err is StorageError {
  return err instanceof StorageError && (code === undefined || err.code === code);
}
