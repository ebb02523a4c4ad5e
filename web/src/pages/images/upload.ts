import { ApiError, type Schemas } from '../../api/client';
import { session } from '../../api/session';
import type { DiskFormat } from './images-logic';

export interface UploadHandle {
  /** The image with its content ready (the PUT answers once the import finished), or an {@link ApiError}. */
  done: Promise<Schemas['ImageResponseDto']>;
  abort(): void;
}

/**
 * Streams a disk file to PUT /api/v1/images/{id}/content?format=… as application/octet-stream with XMLHttpRequest,
 * because fetch reports no upload progress: `onProgress(sent, total)` follows the bytes the browser has sent. The
 * access token goes in the Authorization header; a 401 (it expired before the server accepted the request) refreshes
 * the session once and sends the file again.
 */
export function uploadContent(imageId: string, file: Blob, format: DiskFormat, onProgress: (sent: number, total: number) => void): UploadHandle {
  let current: XMLHttpRequest | null = null;
  let aborted = false;
  const url = `/api/v1/images/${encodeURIComponent(imageId)}/content?format=${encodeURIComponent(format)}`;

  const send = () =>
    new Promise<{ status: number; body: unknown }>((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      current = xhr;
      xhr.open('PUT', url);
      xhr.setRequestHeader('Content-Type', 'application/octet-stream');
      const token = session.accessToken;
      if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`);
      xhr.responseType = 'text';
      xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
      xhr.onload = () => {
        let body: unknown;
        try {
          body = xhr.responseText ? JSON.parse(xhr.responseText) : undefined;
        } catch {
          body = { message: xhr.responseText };
        }
        resolve({ status: xhr.status, body });
      };
      xhr.onerror = () => reject(new ApiError(0, 'NETWORK_ERROR', 'the upload failed: the connection to DLS was lost'));
      xhr.onabort = () => reject(new ApiError(0, 'UPLOAD_CANCELLED', 'the upload was cancelled'));
      xhr.send(file);
    });

  const done = (async () => {
    let res = await send();
    if (res.status === 401 && !aborted && (await session.refresh())) {
      onProgress(0, file.size);
      res = await send();
    }
    if (res.status === 401) session.clear();
    if (res.status < 200 || res.status >= 300) throw ApiError.from(res.status, res.body);
    return res.body as Schemas['ImageResponseDto'];
  })();

  return {
    done,
    abort() {
      aborted = true;
      current?.abort();
    },
  };
}
