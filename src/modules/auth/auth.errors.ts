/** Stable error codes of the auth module (the `code` field of error answers). */
export enum AuthErrorCode {
  /** Unknown user, wrong password or disabled user: one code and one message for all three. */
  INVALID_CREDENTIALS = 'INVALID_CREDENTIALS',
  /** A disabled user's access or refresh token (never answered to a login). */
  USER_DISABLED = 'USER_DISABLED',
  /** Too many failed logins for this username from this address, or from this address; see the Retry-After header. */
  TOO_MANY_ATTEMPTS = 'TOO_MANY_ATTEMPTS',
  /** An access token issued before the user's last logout, password change or refresh-token reuse. */
  TOKEN_REVOKED = 'TOKEN_REVOKED',
  /** Unknown, expired, revoked or already-used refresh token. */
  REFRESH_TOKEN_INVALID = 'REFRESH_TOKEN_INVALID',
}
