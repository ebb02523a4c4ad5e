import { DomainError, DomainErrorKind } from '@common/errors/domain-error';
import { isStorageError, StorageErrorCode } from './storage.errors';

const KIND: Record<StorageErrorCode, DomainErrorKind> = {
  [StorageErrorCode.POOL_UNAVAILABLE]: 'unavailable',
  [StorageErrorCode.DAEMON_DOWN]: 'unavailable',
  [StorageErrorCode.DATASET_BUSY]: 'conflict',
  [StorageErrorCode.NOT_FOUND]: 'not_found',
  [StorageErrorCode.ALREADY_EXISTS]: 'conflict',
  [StorageErrorCode.HAS_DEPENDENTS]: 'conflict',
  [StorageErrorCode.INVALID_NAME]: 'validation',
  [StorageErrorCode.NO_SPACE]: 'insufficient_storage',
  [StorageErrorCode.REFLINK_UNSUPPORTED]: 'unavailable',
  [StorageErrorCode.COMMAND_FAILED]: 'unavailable',
  [StorageErrorCode.TIMEOUT]: 'unavailable',
  [StorageErrorCode.IMAGE_FORMAT_INVALID]: 'validation',
};

/** Runs a storage call and turns StorageErrors into DomainErrors (so the one global filter maps them). */
export async function storageCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw toDomainError(e);
  }
}

export function toDomainError(e: unknown): unknown {
  if (!isStorageError(e)) return e;
  return new DomainError(KIND[e.code] ?? 'unavailable', `STORAGE_${e.code}`, e.message, e.details);
}
