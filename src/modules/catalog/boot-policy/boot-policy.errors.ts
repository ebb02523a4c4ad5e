/** Why a client cannot boot (409s from the boot policy). */
export enum BootPolicyErrorCode {
  CLIENT_HAS_NO_IMAGE = 'CLIENT_HAS_NO_IMAGE',
  NO_BOOTABLE_VERSION = 'NO_BOOTABLE_VERSION',
}
