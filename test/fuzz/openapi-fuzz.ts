import fc from 'fast-check';
import { hostileAny, hostileFor, hostileUrlValue, poison, pollutionObject, RawUrl, SchemaLike, toJson, withKey } from './hostile-values';

/**
 * Reads an OpenAPI 3 document (the app's own `/docs-json`) and turns each operation into fast-check generators of
 * requests: path parameters (real ids or junk), query strings, documented request headers (If-Match, …) and JSON
 * bodies, each either mostly valid (one part made hostile) or hostile throughout. Used by
 * test/e2e/api-fuzz.e2e-spec.ts.
 */

type RawSchema = SchemaLike & { $ref?: string; allOf?: RawSchema[]; oneOf?: RawSchema[]; anyOf?: RawSchema[] };

export interface OpenApiParameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: RawSchema;
}

interface OpenApiOperation {
  parameters?: OpenApiParameter[];
  requestBody?: { content?: Record<string, { schema?: RawSchema }> };
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, OpenApiOperation>>;
  components?: { schemas?: Record<string, RawSchema> };
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** One operation of the document, in the shape the generators use. */
export interface FuzzRoute {
  method: HttpMethod;
  /** The OpenAPI path template, e.g. `/api/v1/images/{id}`. */
  path: string;
  /** `METHOD path`, the key of exclusion lists and reports. */
  key: string;
  pathParams: { name: string; schema: SchemaLike }[];
  queryParams: { name: string; required: boolean; schema: SchemaLike }[];
  /** Documented request headers (`If-Match` on edits). */
  headerParams: { name: string; required: boolean }[];
  /** The JSON request body's schema, resolved; undefined when the operation takes none (or not as JSON). */
  jsonBody?: SchemaLike;
  /** Content types of a non-JSON body (e.g. `application/octet-stream`). */
  otherBodyTypes: string[];
}

/** A request ready to send. */
export interface FuzzRequest {
  method: HttpMethod;
  /** Path and query string, already encoded. */
  url: string;
  body?: string;
  contentType?: string;
  /** Documented request headers sent with it (values a Node client can send: visible ASCII, space, tab). */
  headers?: Record<string, string>;
  /** What kind of input this is (for reports). */
  kind: string;
}

/** Record ids for path parameters and id-valued body fields, by pool name (`images`, `clients`, …). */
export type IdPools = Record<string, string[]>;

const METHODS: HttpMethod[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

/** Follows `$ref`s and merges `allOf`, so generators see one flat schema (properties resolved lazily). */
export class SchemaResolver {
  constructor(private readonly doc: OpenApiDocument) {}

  resolve(s: RawSchema | undefined, depth = 0): SchemaLike {
    if (!s || depth > 20) return {};
    if (s.$ref) {
      const name = s.$ref.replace('#/components/schemas/', '');
      const target = this.doc.components?.schemas?.[name];
      if (!target) throw new Error(`OpenAPI: unresolved $ref ${s.$ref}`);
      return this.resolve({ ...target, ...omit(s, '$ref') }, depth + 1);
    }
    let out: SchemaLike = omit(s, 'allOf', 'oneOf', 'anyOf');
    for (const part of s.allOf ?? []) out = { ...this.resolve(part, depth + 1), ...out };
    const alt = s.oneOf?.[0] ?? s.anyOf?.[0];
    if (alt) out = { ...this.resolve(alt, depth + 1), ...out };
    if (out.items) out = { ...out, items: this.resolve(out.items, depth + 1) };
    if (out.properties) {
      const props: Record<string, SchemaLike> = {};
      for (const [k, v] of Object.entries(out.properties)) props[k] = this.resolve(v, depth + 1);
      out = { ...out, properties: props };
    }
    return out;
  }
}

function omit<T extends object>(o: T, ...keys: string[]): T {
  const c = { ...o } as Record<string, unknown>;
  for (const k of keys) delete c[k];
  return c as T;
}

/** Every operation of the document. */
export function routesOf(doc: OpenApiDocument): FuzzRoute[] {
  const r = new SchemaResolver(doc);
  const out: FuzzRoute[] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [m, op] of Object.entries(ops)) {
      const method = m.toUpperCase() as HttpMethod;
      if (!METHODS.includes(method)) continue;
      const params = op.parameters ?? [];
      const content = op.requestBody?.content ?? {};
      const json = content['application/json'];
      out.push({
        method,
        path,
        key: `${method} ${path}`,
        pathParams: params.filter((p) => p.in === 'path').map((p) => ({ name: p.name, schema: r.resolve(p.schema) })),
        queryParams: params
          .filter((p) => p.in === 'query')
          .map((p) => ({ name: p.name, required: p.required === true, schema: r.resolve(p.schema) })),
        headerParams: params.filter((p) => p.in === 'header').map((p) => ({ name: p.name, required: p.required === true })),
        jsonBody: json ? r.resolve(json.schema) : undefined,
        otherBodyTypes: Object.keys(content).filter((t) => t !== 'application/json'),
      });
    }
  }
  return out;
}

/**
 * The id pool a path parameter or body field draws real ids from: `imageId` → `images`, `snapshotId` → `snapshots`,
 * `mac` → `macs`, and a bare `id` → the collection segment before it (`/clients/{id}` → `clients`). Undefined when
 * the name says nothing (the suite then fails, asking for a pool: a new resource must bring its seed).
 */
export function poolFor(name: string, path?: string): string | undefined {
  const base = name.replace(/Id$/, '').toLowerCase();
  const byField: Record<string, string> = {
    image: 'images',
    assignedimage: 'images',
    parentimage: 'images',
    client: 'clients',
    snapshot: 'snapshots',
    version: 'snapshots',
    node: 'nodes',
    pinnedsnapshot: 'snapshots',
    user: 'users',
    session: 'boot-sessions',
    range: 'network-ranges',
    mac: 'macs',
    macaddress: 'macs',
    group: 'client-groups',
    defaultgroup: 'client-groups',
  };
  // The signed loaders' natural key (`/signed-loaders/{platform}/{name}`).
  if (path?.includes('/signed-loaders/') && (name === 'platform' || name === 'name')) return `signed-loader-${name}s`;
  if (name !== 'id') return byField[base];
  if (!path) return undefined;
  const segs = path.split('/');
  const at = segs.indexOf('{id}');
  return at > 0 ? segs[at - 1] : undefined;
}

/** A plausible valid value for a schema (ids from the pools, examples, enums, in-range numbers). */
export function validFor(s: SchemaLike, field: string, pools: IdPools): fc.Arbitrary<unknown> {
  const pool = pools[poolFor(field) ?? ''];
  if (pool?.length && (s.format === 'uuid' || /Id$/.test(field))) return fc.constantFrom(...pool);
  if (s.enum?.length) return fc.constantFrom(...s.enum);
  if (field === 'macAddress' || field === 'mac') return fc.integer({ min: 0, max: 2 ** 24 - 1 }).map((n) => `02:fc:00:${hexBytes(n)}`);
  if (s.format === 'uuid') return fc.uuid();
  if (s.type === 'boolean') return fc.boolean();
  if (s.type === 'number' || s.type === 'integer') {
    if (typeof s.example === 'number') return fc.constant(s.example);
    const min = s.minimum ?? 0;
    const max = s.maximum ?? Math.max(min, 1000);
    return fc.oneof(fc.integer({ min: Math.ceil(min), max: Math.floor(Math.min(max, Number.MAX_SAFE_INTEGER)) }), fc.constantFrom(min, max));
  }
  if (s.type === 'array') {
    const items = s.items ?? { type: 'string' };
    return fc.array(validFor(items, field, pools), { maxLength: Math.min(s.maxItems ?? 3, 3) });
  }
  if (s.properties) return validObject(s, pools);
  if (typeof s.example === 'string') {
    const ex = s.example;
    // A fresh suffix when the pattern (if any) still matches, so creates succeed instead of all conflicting.
    const suffixed = `${ex}-abcdef`;
    const fits = (!s.pattern || new RegExp(s.pattern).test(suffixed)) && (s.maxLength === undefined || suffixed.length <= s.maxLength);
    const fresh = fc.integer({ min: 0, max: 0xffffff }).map((n) => `${ex}-${n.toString(16).padStart(6, '0')}`);
    return fits ? fc.oneof(fc.constant(ex), fresh) : fc.constant(ex);
  }
  if (s.example !== undefined) return fc.constant(s.example);
  if (s.default !== undefined) return fc.constant(s.default);
  if (s.type === 'string')
    return fc.string({ minLength: Math.max(1, s.minLength ?? 1), maxLength: Math.min(s.maxLength ?? 16, 16), unit: 'grapheme-ascii' });
  return fc.constant(null);
}

function hexBytes(n: number): string {
  return [16, 8, 0].map((shift) => ((n >> shift) & 0xff).toString(16).padStart(2, '0')).join(':');
}

/** An object with every required property and a random subset of the optional ones, all valid. */
export function validObject(s: SchemaLike, pools: IdPools): fc.Arbitrary<Record<string, unknown>> {
  const props = s.properties ?? {};
  const required = new Set(s.required ?? []);
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [k, p] of Object.entries(props)) model[k] = validFor(p, k, pools);
  const requiredKeys = Object.keys(props).filter((k) => required.has(k)) as never[];
  return fc.record(model, { requiredKeys });
}

type Mutation = (o: Record<string, unknown>) => unknown;

/**
 * Mostly valid: a valid object with one thing wrong — one property hostile, one string property poisoned (a NUL or
 * other control character inserted), every string property poisoned at once, a property null, an unknown or
 * prototype-polluting key added, or a required property dropped.
 */
function mutatedObject(s: SchemaLike, pools: IdPools): fc.Arbitrary<unknown> {
  const props = Object.entries(s.properties ?? {});
  const names = props.length ? props.map(([k]) => k) : ['x'];
  const poisonOne: fc.Arbitrary<Mutation> = fc.tuple(fc.nat(), poison).map(([i, p]) => (o) => {
    const strings = Object.keys(o).filter((k) => typeof o[k] === 'string');
    if (!strings.length) return withKey(o, names[i % names.length], p(''));
    const k = strings[i % strings.length];
    return withKey(o, k, p(o[k] as string));
  });
  const poisonAll: fc.Arbitrary<Mutation> = poison.map((p) => (o) => {
    let out = o;
    for (const k of Object.keys(o)) if (typeof o[k] === 'string') out = withKey(out, k, p(o[k]));
    return out;
  });
  const mutations: { weight: number; arbitrary: fc.Arbitrary<Mutation> }[] = [
    {
      weight: 3,
      arbitrary: fc.constantFrom(...(props.length ? props : [['x', {}] as [string, SchemaLike]])).chain(([k, p]) =>
        hostileFor(p).map(
          (v): Mutation =>
            (o) =>
              withKey(o, k, v),
        ),
      ),
    },
    { weight: 3, arbitrary: poisonOne },
    { weight: 1, arbitrary: poisonAll },
    {
      weight: 1,
      arbitrary: fc.constantFrom(...names).map(
        (k): Mutation =>
          (o) =>
            withKey(o, k, null),
      ),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom('__proto__', 'constructor', 'prototype', 'isAdmin', 'id', 'createdAt', '', ' ', 'role\u0000'), hostileAny)
        .map(
          ([k, v]): Mutation =>
            (o) =>
              withKey(o, k, v),
        ),
    },
  ];
  const required = s.required ?? [];
  if (required.length)
    mutations.push({
      weight: 1,
      arbitrary: fc.constantFrom(...required).map((k): Mutation => (o) => {
        const c = { ...o };
        delete c[k];
        return c;
      }),
    });
  return fc.tuple(validObject(s, pools), fc.oneof(...mutations)).map(([o, mutate]) => mutate(o));
}

/** Hostile throughout: a non-object, every documented property hostile, or a pollution object over a valid one. */
function hostileBody(s: SchemaLike, pools: IdPools): fc.Arbitrary<unknown> {
  const props = s.properties ?? {};
  const allHostile: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [k, p] of Object.entries(props)) allHostile[k] = hostileFor(p);
  return fc.oneof(
    hostileAny,
    fc.record(allHostile),
    fc.tuple(validObject(s, pools), pollutionObject).map(([o, p]) => Object.keys(p).reduce((acc, k) => withKey(acc, k, p[k]), o)),
  );
}

/** JSON bodies for a schema: valid, mostly valid, or hostile (object and array schemas alike). */
export function bodyFor(s: SchemaLike, pools: IdPools): fc.Arbitrary<{ value: unknown; kind: string }> {
  if (s.type === 'array' && s.items) {
    const item = s.items;
    return fc.oneof(
      { weight: 1, arbitrary: fc.array(validObject(item, pools), { minLength: 1, maxLength: 3 }).map((value) => ({ value, kind: 'valid[]' })) },
      {
        weight: 3,
        arbitrary: fc.tuple(fc.array(validObject(item, pools), { maxLength: 3 }), mutatedObject(item, pools), fc.nat()).map(([rows, bad, at]) => ({
          value: [...rows.slice(0, at % (rows.length + 1)), bad, ...rows.slice(at % (rows.length + 1))],
          kind: 'mutated[]',
        })),
      },
      {
        weight: 1,
        arbitrary: fc
          .constantFrom(0, 1001)
          .chain((n) => validObject(item, pools).map((o) => ({ value: new Array<unknown>(n).fill(o), kind: `array x${n}` }))),
      },
      { weight: 2, arbitrary: hostileBody(item, pools).map((value) => ({ value, kind: 'hostile' })) },
    );
  }
  return fc.oneof(
    { weight: 1, arbitrary: validObject(s, pools).map((value) => ({ value, kind: 'valid' })) },
    { weight: 4, arbitrary: mutatedObject(s, pools).map((value) => ({ value, kind: 'mutated' })) },
    { weight: 3, arbitrary: hostileBody(s, pools).map((value) => ({ value, kind: 'hostile' })) },
  );
}

/** Bodies that are not JSON at all, or not what their content type says. */
const WIRE_BODIES: fc.Arbitrary<{ body: string; contentType: string; kind: string }> = fc.oneof(
  fc
    .constantFrom(
      '{',
      '{"a":',
      '[',
      'nul',
      '\u0000',
      '{"a":1,}',
      "{'a':1}",
      '[1,2',
      '"\\ud800"',
      '{"a":"\\u0000"}',
      '['.repeat(5000) + ']'.repeat(5000),
    )
    .map((body) => ({ body, contentType: 'application/json', kind: 'malformed json' })),
  fc
    .constantFrom(
      'text/plain',
      'application/x-www-form-urlencoded',
      'application/json; charset=utf-16',
      'application/xml',
      'multipart/form-data; boundary=x',
    )
    .map((contentType) => ({ body: '{"name":"x"}', contentType, kind: `content-type ${contentType}` })),
  fc.constant({ body: `{"a":"${'x'.repeat(3 * 1024 * 1024)}"}`, contentType: 'application/json', kind: 'body over the 2 MB limit' }),
);

function encode(v: string | RawUrl): string {
  if (v instanceof RawUrl) return v.text;
  // encodeURIComponent throws on lone surrogates; send their (replacement-char) UTF-8 bytes instead.
  try {
    return encodeURIComponent(v);
  } catch {
    return [...Buffer.from(v, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`).join('');
  }
}

/** A path with its parameters filled: real ids (`realIds` true) or junk. */
function pathFor(route: FuzzRoute, pools: IdPools, realIds: boolean): fc.Arbitrary<string> {
  if (!route.pathParams.length) return fc.constant(route.path);
  const parts = route.pathParams.map((p) => {
    const pool = pools[poolFor(p.name, route.path) ?? ''] ?? [];
    const junk = fc.oneof(fc.uuid().map(String), hostileUrlValue({ type: 'string', format: 'uuid' }));
    return realIds && pool.length ? fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...pool) }, { weight: 1, arbitrary: junk }) : junk;
  });
  return fc.tuple(...parts).map((vals) => route.pathParams.reduce((acc, p, i) => acc.replace(`{${p.name}}`, encode(vals[i])), route.path));
}

/** Query strings: valid values with one hostile, all hostile, repeated keys, unknown and pollution keys. */
function queryFor(route: FuzzRoute, pools: IdPools): fc.Arbitrary<{ qs: string; kind: string }> {
  const params = route.queryParams;
  if (!params.length) return fc.constant({ qs: '', kind: 'no query' });
  const validOf = (p: (typeof params)[number]) => validFor(p.schema, p.name, pools).map((v) => String(v));
  const join = (pairs: [string, string | RawUrl][]) => pairs.map(([k, v]) => `${encode(k)}=${encode(v)}`).join('&');
  const base = fc.tuple(...params.map((p) => (p.required ? validOf(p) : fc.option(validOf(p), { nil: undefined, freq: 2 }))));
  const pairsOf = (vals: (string | undefined)[]) => params.flatMap((p, i): [string, string][] => (vals[i] === undefined ? [] : [[p.name, vals[i]]]));
  return fc.oneof(
    {
      weight: 5,
      arbitrary: fc.tuple(base, fc.nat(params.length - 1)).chain(([vals, at]) =>
        hostileUrlValue(params[at].schema).map((h) => {
          const pairs: [string, string | RawUrl][] = pairsOf(vals).filter(([k]) => k !== params[at].name);
          pairs.push([params[at].name, h]);
          return { qs: join(pairs), kind: `query ${params[at].name} hostile` };
        }),
      ),
    },
    { weight: 1, arbitrary: base.map((vals) => ({ qs: join(pairsOf(vals)), kind: 'query valid' })) },
    {
      weight: 3,
      arbitrary: fc.tuple(base, fc.nat(params.length - 1), poison).chain(([vals, at, p]) =>
        validOf(params[at]).map((v) => {
          const pairs: [string, string][] = pairsOf(vals).filter(([k]) => k !== params[at].name);
          pairs.push([params[at].name, p(v)]);
          return { qs: join(pairs), kind: `query ${params[at].name} poisoned` };
        }),
      ),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(...params.map((p) => hostileUrlValue(p.schema)))
        .map((hs) => ({ qs: join(params.map((p, i): [string, string | RawUrl] => [p.name, hs[i]])), kind: 'query all hostile' })),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.constantFrom(...params), fc.constantFrom('', '[]', '[0]', '[a]', '[__proto__]')).chain(([p, suffix]) =>
        fc.tuple(validOf(p), validOf(p)).map(([a, b]) => ({
          qs: `${encode(p.name)}${suffix}=${encode(a)}&${encode(p.name)}${suffix}=${encode(b)}`,
          kind: `query ${p.name}${suffix} repeated`,
        })),
      ),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom('__proto__[polluted]=1', 'constructor[prototype][polluted]=1', 'unknownParam=1', '=1', '&&&', 'a=%00&b')
        .map((qs) => ({ qs, kind: 'query pollution/unknown' })),
    },
  );
}

/**
 * Values of a documented request header: entity tags and lists of them (current, stale and impossible versions,
 * weak, `*`), malformed ones, and random printable text — all sendable by Node's client (visible ASCII, space, tab).
 */
const HEADER_VALUES: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '*',
    '"1"',
    '"2"',
    '"3"',
    '"0"',
    '"-1"',
    '"999999999999999999999"',
    'W/"1"',
    '"1", "2", "3"',
    '"1",,"2"',
    '*, "1"',
    '',
    ' ',
    ',',
    '"',
    '""',
    'W/',
    '1',
    '"a" "b"',
    'null',
    `"${'9'.repeat(2000)}"`,
  ),
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 64 }),
  fc.string({ unit: fc.constantFrom('"', ',', ' ', '\t', 'W', '/', '*', '1', '2'), maxLength: 16 }),
);

/** Documented headers: each absent one time in three (required ones always sent), else a value from HEADER_VALUES. */
function headersFor(route: FuzzRoute): fc.Arbitrary<{ headers?: Record<string, string>; kind: string }> {
  if (!route.headerParams.length) return fc.constant({ kind: '' });
  return fc
    .tuple(...route.headerParams.map((h) => (h.required ? HEADER_VALUES : fc.option(HEADER_VALUES, { nil: undefined, freq: 3 }))))
    .map((vals) => {
      const headers: Record<string, string> = {};
      route.headerParams.forEach((h, i) => {
        if (vals[i] !== undefined) headers[h.name] = vals[i];
      });
      const names = Object.keys(headers);
      return names.length ? { headers, kind: names.map((n) => `${n}: ${JSON.stringify(headers[n].slice(0, 40))}`).join(', ') } : { kind: '' };
    });
}

/** Requests for one route: path (real ids or junk), query, documented headers and — unless `noBody` — body. */
export function requestsFor(route: FuzzRoute, pools: IdPools, opts: { realIds: boolean; noBody: boolean }): fc.Arbitrary<FuzzRequest> {
  const path = pathFor(route, pools, opts.realIds);
  const query = queryFor(route, pools);
  const headers = headersFor(route);
  const withUrl = (p: string, q: { qs: string }) => (q.qs ? `${p}?${q.qs}` : p);
  if (opts.noBody || (route.method === 'GET' && !route.jsonBody)) {
    return fc.tuple(path, query, headers).map(([p, q, h]) => ({
      method: route.method,
      url: withUrl(p, q),
      headers: h.headers,
      kind: [q.kind, h.kind].filter(Boolean).join(', '),
    }));
  }
  const json = route.jsonBody
    ? bodyFor(route.jsonBody, pools).map((b) => ({ body: toJson(b.value), contentType: 'application/json', kind: `body ${b.kind}` }))
    : fc.oneof(
        fc.constant({ body: undefined as string | undefined, contentType: undefined as string | undefined, kind: 'no body' }),
        hostileAny.map((v) => ({
          body: toJson(v),
          contentType: 'application/json',
          kind: 'unexpected body',
        })),
      );
  const body = fc.oneof({ weight: 9, arbitrary: json }, { weight: 1, arbitrary: WIRE_BODIES });
  return fc.tuple(path, route.queryParams.length ? query : fc.constant({ qs: '', kind: '' }), body, headers).map(([p, q, b, h]) => ({
    method: route.method,
    url: withUrl(p, q),
    body: b.body,
    contentType: b.contentType,
    headers: h.headers,
    kind: [b.kind, q.kind, h.kind].filter(Boolean).join(', '),
  }));
}
