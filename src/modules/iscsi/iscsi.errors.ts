/**
 * Error codes of the iSCSI exports service, carried by the common {@link DomainError}s it throws (tgt-level failures
 * have their own {@link TgtErrorCode}s in `tgt.errors.ts` and are mapped to `ISCSI_UNAVAILABLE` at the service edge).
 */
export enum IscsiErrorCode {
  /** DLS_ISCSI_ENABLED=false (503). */
  ISCSI_DISABLED = 'ISCSI_DISABLED',
  /** tgtd is not running/ready, a tgtadm call failed, or no target id could be allocated (503). */
  ISCSI_UNAVAILABLE = 'ISCSI_UNAVAILABLE',
  /** An unforced removal while the client is logged in to its disk (409). */
  EXPORT_ACTIVE = 'EXPORT_ACTIVE',
  /** The client has no export (404). */
  EXPORT_NOT_FOUND = 'ISCSI_EXPORT_NOT_FOUND',
}
