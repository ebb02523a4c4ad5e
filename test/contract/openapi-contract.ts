/**
 * The API contract every operation of the OpenAPI document (`/docs-json`) must meet, as one pure function over the
 * document: test/e2e/api-contract.e2e-spec.ts applies it to the live app, so a new route (of any module or branch)
 * is held to it without touching the test. What it asks, per operation:
 *
 *  1. a `summary`;
 *  2. a success (2xx) response: 204 without content; any other with content — JSON with a real schema (a `$ref`, a
 *     `type`, `properties` or a composition, not just an example), other media types (text/plain scripts,
 *     application/octet-stream, text/event-stream) by being named;
 *  3. error responses with the global filter's body: every documented 4xx/5xx that is JSON refers to the named schema
 *     `ApiErrorResponse`; a route whose success content is not JSON (the iPXE scripts) may answer its own errors in
 *     its own format, but the 401/403 of a route that needs a token come from the guard as `ApiErrorResponse`;
 *  4. the errors a route can't avoid: 401 and 403 when it needs a token (`security`), 400 when it takes input (a body,
 *     query or path parameters: the validation pipe), 404 when a path parameter names a record (`id`, `…Id`, a uuid);
 *  5. optimistic concurrency on edits: a PATCH documents the `If-Match` header, 412 and an `ETag` on its success, and
 *     the GET of the same path an `ETag` on its 200.
 *
 * Exceptions are explicit (`allowed`: `METHOD path status` → why); one that no longer matches a documented response
 * is itself a problem, so the list cannot rot.
 */

export interface OpenApiDoc {
  paths: Record<string, Record<string, unknown>>;
  components?: { schemas?: Record<string, Schema> };
}

interface Schema {
  $ref?: string;
  type?: string;
  format?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  allOf?: Schema[];
  oneOf?: Schema[];
  anyOf?: Schema[];
  required?: string[];
  additionalProperties?: boolean | Schema;
}

interface OpenApiResponse {
  description?: string;
  headers?: Record<string, unknown>;
  content?: Record<string, { schema?: Schema }>;
}

interface OpenApiParameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  schema?: Schema;
}

export interface OpenApiOperation {
  summary?: string;
  parameters?: OpenApiParameter[];
  requestBody?: unknown;
  responses?: Record<string, OpenApiResponse>;
  security?: unknown[];
}

export const ERROR_SCHEMA = 'ApiErrorResponse';
const ERROR_REF = `#/components/schemas/${ERROR_SCHEMA}`;
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

const isJson = (mediaType: string) => mediaType === 'application/json' || /\+json$/.test(mediaType);

/** A schema that says what the body is (not `{}` nor an example alone). */
function isRealSchema(s: Schema | undefined): boolean {
  return !!s && (!!s.$ref || !!s.type || !!s.properties || !!s.allOf?.length || !!s.oneOf?.length || !!s.anyOf?.length);
}

const isIdParam = (p: OpenApiParameter) => p.in === 'path' && (p.name === 'id' || /Id$/.test(p.name) || p.schema?.format === 'uuid');

/** Every operation of the document: `METHOD path` and the operation. */
export function operationsOf(doc: OpenApiDoc): { key: string; method: string; path: string; op: OpenApiOperation }[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([m]) => METHODS.includes(m))
      .map(([m, op]) => ({ key: `${m.toUpperCase()} ${path}`, method: m.toUpperCase(), path, op: op as OpenApiOperation })),
  );
}

/**
 * Every way the document breaks the contract, one line each (`METHOD path: problem`), sorted; empty when it holds.
 * `allowed` names error responses exempt from rule 3 (`METHOD path status` → reason).
 */
export function contractProblems(doc: OpenApiDoc, allowed: Record<string, string> = {}): string[] {
  const problems: string[] = [];
  const used = new Set<string>();
  const schemas = doc.components?.schemas ?? {};

  const err = schemas[ERROR_SCHEMA];
  if (!err) problems.push(`components.schemas: no ${ERROR_SCHEMA} (the global error body)`);
  else {
    const missing = ['statusCode', 'error', 'code', 'message'].filter((k) => !err.properties?.[k] || !err.required?.includes(k));
    if (missing.length) problems.push(`components.schemas.${ERROR_SCHEMA}: ${missing.join(', ')} not a required property`);
  }

  const ops = operationsOf(doc);
  const patchPaths = new Set(ops.filter((o) => o.method === 'PATCH').map((o) => o.path));

  for (const { key, method, path, op } of ops) {
    const bad = (what: string) => problems.push(`${key}: ${what}`);
    const responses = op.responses ?? {};
    const statuses = Object.keys(responses);

    // 1. summary
    if (typeof op.summary !== 'string' || !op.summary.trim()) bad('no summary');

    // 2. success
    const successes = statuses.filter((s) => /^2\d\d$/.test(s));
    if (!successes.length) bad('no success (2xx) response');
    let speaksJson = successes.length === 0;
    for (const s of successes) {
      const content = responses[s].content ?? {};
      const types = Object.keys(content);
      if (s === '204') {
        if (types.length) bad('204 documents a body');
        continue;
      }
      if (!types.length) bad(`${s} has no content (a body needs a schema or a content type; no body: 204)`);
      for (const t of types) {
        if (!isJson(t)) continue;
        speaksJson = true;
        if (!isRealSchema(content[t].schema)) bad(`${s} ${t} has no schema`);
      }
    }
    if (successes.length && successes.every((s) => s === '204')) speaksJson = true;

    // 3. error bodies
    for (const s of statuses.filter((x) => /^[45]\d\d$/.test(x))) {
      const exemption = `${key} ${s}`;
      if (allowed[exemption] !== undefined) {
        used.add(exemption);
        continue;
      }
      const content = responses[s].content ?? {};
      const types = Object.keys(content);
      if (!types.length) {
        bad(`${s} has no content (the error body: ${ERROR_SCHEMA})`);
        continue;
      }
      const fromGuard = !!op.security?.length && (s === '401' || s === '403');
      for (const t of types) {
        if (isJson(t)) {
          if (content[t].schema?.$ref !== ERROR_REF) bad(`${s} ${t} is not ${ERROR_SCHEMA}`);
        } else if (speaksJson || fromGuard) {
          bad(`${s} is documented as ${t}: the global error filter answers application/json (${ERROR_SCHEMA})`);
        }
      }
    }

    // 4. errors that come with the route's shape
    const has = (s: string) => s in responses;
    if (op.security?.length) {
      if (!has('401')) bad('needs a token but documents no 401');
      if (!has('403')) bad('needs a token but documents no 403');
    }
    const params = op.parameters ?? [];
    const takesInput = !!op.requestBody || params.some((p) => p.in === 'path' || p.in === 'query');
    if (takesInput && !has('400')) bad('takes input (body, query or path parameters) but documents no 400');
    if (params.some(isIdParam) && !has('404')) bad('has a record id in its path but documents no 404');

    // 5. optimistic concurrency
    const etagOn = (s: string | undefined) => !!s && Object.keys(responses[s]?.headers ?? {}).some((h) => h.toLowerCase() === 'etag');
    if (method === 'PATCH') {
      if (!params.some((p) => p.in === 'header' && p.name.toLowerCase() === 'if-match')) bad('PATCH documents no If-Match header');
      if (!has('412')) bad('PATCH documents no 412 (If-Match does not match)');
      if (!etagOn(successes.find((s) => s !== '204'))) bad('PATCH documents no ETag header on its success');
    }
    if (method === 'GET' && patchPaths.has(path) && !etagOn('200')) bad('GET of an editable record documents no ETag header on its 200');
  }

  for (const k of Object.keys(allowed)) if (!used.has(k)) problems.push(`allowed exception "${k}" matches no documented error response`);
  problems.push(...unresolvedRefs(doc));
  return problems.sort();
}

/** `$ref`s that point at no schema of the document. */
function unresolvedRefs(doc: OpenApiDoc): string[] {
  const out = new Set<string>();
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === '$ref' && typeof x === 'string') {
          const name = x.replace('#/components/schemas/', '');
          if (!x.startsWith('#/components/schemas/') || !doc.components?.schemas?.[name]) out.add(`$ref ${x} resolves to nothing`);
        } else walk(x);
      }
    }
  };
  walk(doc);
  return [...out];
}
