import { isIP } from 'node:net';

/** Keys whose values never reach the audit log. */
export const SECRET_KEY = /password|secret|token/i;
export const REDACTED = '[REDACTED]';

const MAX_DEPTH = 6;
const MAX_STRING = 1024;
const MAX_ITEMS = 100;

/** NUL and unpaired UTF-16 surrogates: PostgreSQL stores neither in text nor in jsonb (the insert fails). */
// eslint-disable-next-line no-control-regex -- NUL is exactly what this replaces
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * `s` with every character PostgreSQL refuses replaced by U+FFFD, so a request carrying one (the very requests an
 * audit trail is for) is still recorded instead of failing the insert.
 */
export function storableText(s: string): string {
  return s.replace(UNSTORABLE, '\ufffd');
}

/**
 * A copy of `value` fit for the audit log: values under keys matching SECRET_KEY are replaced by `[REDACTED]`
 * (at any depth), long strings, big arrays and deep nesting are cut, so one request cannot bloat the table, and
 * NUL and unpaired surrogates in keys and strings become U+FFFD ({@link storableText}).
 */
export function redactSecrets(value: unknown, depth = 0): unknown {
  if (value === null || value === undefined) return value ?? null;
  if (typeof value === 'string') return storableText(value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…` : value);
  if (typeof value !== 'object') return typeof value === 'bigint' ? value.toString() : value;
  if (value instanceof Date) return value.toISOString();
  if (depth >= MAX_DEPTH) return '[…]';
  if (Array.isArray(value)) {
    const items = value.slice(0, MAX_ITEMS).map((v) => redactSecrets(v, depth + 1));
    if (value.length > MAX_ITEMS) items.push(`[… ${value.length - MAX_ITEMS} more]`);
    return items;
  }
  if (Buffer.isBuffer(value)) return `[${value.length} bytes]`;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    // defineProperty: a `__proto__` key is recorded as the key it was, not turned into the copy's prototype.
    const copy = SECRET_KEY.test(k) ? REDACTED : redactSecrets(v, depth + 1);
    Object.defineProperty(out, storableText(k), { value: copy, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** Handler-name verbs mapped to the stable action suffix; other handler names are used as they are. */
const VERBS: Record<string, string> = {
  create: 'create',
  add: 'create',
  update: 'update',
  patch: 'update',
  replace: 'update',
  remove: 'delete',
  delete: 'delete',
  destroy: 'delete',
};

/**
 * The entity type of a controller: the last literal segment of its path without the API prefix
 * (`api/v1/clients` → `clients`, `api/v1/images/:imageId/snapshots` → `snapshots`), else the class name without
 * `Controller`, kebab-cased.
 */
export function entityTypeOf(controllerPath: string | string[] | undefined, className: string): string {
  const p = Array.isArray(controllerPath) ? controllerPath[0] : controllerPath;
  const segments = (p ?? '').split('/').filter((s) => s && !s.startsWith(':') && !/^api$|^v\d+$/.test(s));
  const last = segments[segments.length - 1];
  const name =
    last ??
    className
      .replace(/Controller$/, '')
      .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
      .toLowerCase();
  return name.slice(0, 64) || 'unknown';
}

/**
 * A stable action name from controller and handler: `<entityType>.<verb>`, where the verb is the handler name
 * (`create`/`update`/`remove` normalised to create/update/delete), kebab-cased: `clients.create`, `auth.login`,
 * `images.publish-version`.
 */
export function actionOf(entityType: string, handlerName: string): string {
  const verb = VERBS[handlerName] ?? handlerName.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
  return `${entityType}.${verb}`.slice(0, 64);
}

/** An address PostgreSQL's `inet` accepts (IPv4-mapped IPv6 shown as IPv4), or null. */
export function normalizeAddress(address: string | undefined | null): string | null {
  if (!address) return null;
  const a = address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
  return isIP(a) ? a : null;
}
