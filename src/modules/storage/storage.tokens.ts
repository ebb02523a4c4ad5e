/** Injection token of the active StorageDriver (zfs or dir, chosen by DLS_STORAGE_DRIVER). */
export const STORAGE_DRIVER = Symbol('STORAGE_DRIVER');
