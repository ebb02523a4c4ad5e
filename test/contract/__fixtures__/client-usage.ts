/**
 * A small program against the API as `/docs-json` describes it: the types come from openapi-typescript's output for
 * the live document (module `dls-api`, generated into a temp dir by test/e2e/api-contract.e2e-spec.ts, never
 * committed) and the calls go through openapi-fetch. The test only type-checks this file (`tsc --noEmit`): when a
 * route, parameter, header or field used here is renamed or dropped in the spec, it stops compiling.
 */
import createClient from 'openapi-fetch';
import type { components, paths } from 'dls-api';

type Client = components['schemas']['ClientResponseDto'];
type ApiError = components['schemas']['ApiErrorResponse'];

export async function renameFirstClient(baseUrl: string, accessToken: string, prefix: string): Promise<Client | ApiError | undefined> {
  const api = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${accessToken}` } });

  const list = await api.GET('/api/v1/clients', { params: { query: { q: prefix, limit: 10, sort: 'hostname:asc' } } });
  if (list.error) return list.error;
  const first: Client | undefined = list.data.items[0];
  if (!first) return undefined;
  const total: number = list.data.total;

  // The ETag of the record as read, from the header or from the body's version.
  const read = await api.GET('/api/v1/clients/{id}', { params: { path: { id: first.id } } });
  if (read.error) return read.error;
  const etag: string = read.response.headers.get('ETag') ?? `"${read.data.version}"`;

  const patched = await api.PATCH('/api/v1/clients/{id}', {
    params: { path: { id: first.id }, header: { 'If-Match': etag } },
    body: { hostname: `${first.hostname}-${total}`, enabled: first.enabled, groupId: first.groupId },
  });
  if (patched.error) {
    // 412: someone changed the client since it was read (the body names the precondition).
    const code: string = patched.error.code;
    return patched.response.status === 412 ? { ...patched.error, code } : patched.error;
  }
  const effectiveImage: string | null | undefined = patched.data.effective.imageId.value;
  void effectiveImage;
  return patched.data;
}
