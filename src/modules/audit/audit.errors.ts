/** Stable error codes of the audit module (the `code` field of error answers). */
export enum AuditErrorCode {
  /** `from` is after `to`. */
  INVALID_TIME_RANGE = 'INVALID_TIME_RANGE',
  /** `statusMin` is above `statusMax`. */
  INVALID_STATUS_RANGE = 'INVALID_STATUS_RANGE',
}
