import createClient from 'openapi-fetch';
import type { components, paths } from './schema';
import { messageOf, session } from './session';

export type Schemas = components['schemas'];

/** An API error with the server's own words: status, code, message (each problem naming its field), details. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  static from(status: number, body: unknown): ApiError {
    const b = (body ?? {}) as { code?: string; details?: Record<string, unknown> };
    return new ApiError(status, b.code ?? `HTTP_${status}`, messageOf(body) ?? `request failed (${status})`, b.details);
  }
}

/** fetch with the access token; one refresh and retry on a 401; a second 401 ends the session (login form). */
export async function authFetch(input: Request): Promise<Response> {
  const send = (token: string | null) => {
    const r = input.clone();
    if (token) r.headers.set('Authorization', `Bearer ${token}`);
    return fetch(r);
  };
  let res = await send(session.accessToken);
  if (res.status === 401 && (await session.refresh())) res = await send(session.accessToken);
  if (res.status === 401) session.clear();
  return res;
}

export const api = createClient<paths>({ baseUrl: '', fetch: authFetch });

/** The data of an openapi-fetch call, or an {@link ApiError} with the API's message. */
export async function call<T>(p: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await p;
  if (!response.ok) throw ApiError.from(response.status, error);
  return data as T;
}

/** The If-Match header for editing the version of a record the page shows. */
export const ifMatch = (version: number) => ({ 'If-Match': `"${version}"` });
