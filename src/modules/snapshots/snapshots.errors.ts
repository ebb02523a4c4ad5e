/** Error codes of the snapshots (image versions) module. */
export enum SnapshotErrorCode {
  IMAGE_NOT_FOUND = 'IMAGE_NOT_FOUND',
  SNAPSHOT_NOT_FOUND = 'SNAPSHOT_NOT_FOUND',
  PUBLISHED_VERSION = 'PUBLISHED_VERSION',
}
