/** Error codes of the images module (DomainError.code). */
export enum ImageErrorCode {
  IMAGE_NOT_FOUND = 'IMAGE_NOT_FOUND',
  PARENT_IMAGE_NOT_FOUND = 'PARENT_IMAGE_NOT_FOUND',
  PARENT_IMAGE_CYCLE = 'PARENT_IMAGE_CYCLE',
  IMAGE_IN_USE = 'IMAGE_IN_USE',
  IMAGE_HAS_VERSIONS = 'IMAGE_HAS_VERSIONS',
  FIELD_NOT_NULLABLE = 'FIELD_NOT_NULLABLE',
}

export enum ImageContentErrorCode {
  IMPORT_IN_PROGRESS = 'IMPORT_IN_PROGRESS',
  /** Another request (a delete, another import) is changing the image's content right now. */
  IMAGE_BUSY = 'IMAGE_BUSY',
  IMPORT_SOURCE_INVALID = 'IMPORT_SOURCE_INVALID',
  IMPORT_SOURCE_NOT_FOUND = 'IMPORT_SOURCE_NOT_FOUND',
  UPLOAD_EMPTY = 'UPLOAD_EMPTY',
  UPLOAD_ABORTED = 'UPLOAD_ABORTED',
}
