/** Public surface of the storage driver module: the port, the token, the guard and the error mapping. */
export { StorageModule, createStorageDriver } from './storage.module';
export { STORAGE_DRIVER } from './storage.tokens';
export type { ManagedItem, StorageDriver, StorageStatus } from './storage-driver';
export { SpaceGuard } from './space-guard';
export { QemuImgAdapter } from './qemu-img.adapter';
export { cloneOrCopyFile } from './file-copy';
export { storageCall, toDomainError } from './storage-domain-errors';
export { StorageError, StorageErrorCode, isStorageError } from './storage.errors';
