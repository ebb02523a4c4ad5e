/** Error codes of client disks (the boot policy's CLIENT_HAS_NO_IMAGE / NO_BOOTABLE_VERSION come from there). */
export enum ClientDiskErrorCode {
  CLIENT_DISK_NOT_FOUND = 'CLIENT_DISK_NOT_FOUND',
}
