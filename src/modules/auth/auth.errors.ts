/** Stable error codes of the auth module (the `code` field of error answers). */
export enum AuthErrorCode {
  /** Unknown user or wrong password: one code and one message for both. */
  INVALID_CREDENTIALS = 'INVALID_CREDENTIALS',
  USER_DISABLED = 'USER_DISABLED',
  /** Too many failed logins for this username or from this address; see the Retry-After header. */
  TOO_MANY_ATTEMPTS = 'TOO_MANY_ATTEMPTS',
  /** Unknown, expired, revoked or already-used refresh token. */
  REFRESH_TOKEN_INVALID = 'REFRESH_TOKEN_INVALID',
}
