/** Stable error codes of the users module (the `code` field of error answers). */
export enum UsersErrorCode {
  USER_NOT_FOUND = 'USER_NOT_FOUND',
  USERNAME_TAKEN = 'USERNAME_TAKEN',
  /** Deleting, disabling or demoting the last enabled admin would lock everybody out. */
  LAST_ADMIN = 'LAST_ADMIN',
}
