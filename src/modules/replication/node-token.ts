import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The credential one DLS node shows another when it pulls a version's content (`Authorization: DLS-Node …`).
 *
 * `<nodeId>.<expiresAtMs>.<hmac>`, where the HMAC-SHA256 (key: the nodes' shared secret, kept in the database) covers
 * the node id, the expiry, the method and the exact path with its query. A token is good for one request line and for
 * a short time: one captured on the wire cannot fetch another version, and stops working within {@link TOKEN_LIFETIME_MS}.
 * The channel is authenticated, not encrypted: an image's bytes are no secret from the LAN that boots it.
 */
export const NODE_AUTH_SCHEME = 'DLS-Node';
export const TOKEN_LIFETIME_MS = 60_000;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function mac(secret: string, nodeId: string, expires: number, method: string, path: string): Buffer {
  return createHmac('sha256', secret).update(`${nodeId}\n${expires}\n${method.toUpperCase()}\n${path}`).digest();
}

/** The `Authorization` header value for `method path` by node `nodeId`, valid until `now + TOKEN_LIFETIME_MS`. */
export function signNodeRequest(secret: string, nodeId: string, method: string, path: string, now = Date.now()): string {
  const expires = now + TOKEN_LIFETIME_MS;
  return `${NODE_AUTH_SCHEME} ${nodeId}.${expires}.${mac(secret, nodeId, expires, method, path).toString('base64url')}`;
}

export type NodeTokenRefusal = 'missing' | 'malformed' | 'expired' | 'bad-signature';

/**
 * Checks an `Authorization` header against `method path`: the node id it names, or why it is refused. An expiry
 * further ahead than a token's lifetime (plus a little clock skew) is refused too, so no long-lived token can be made.
 */
export function verifyNodeRequest(
  secret: string,
  header: string | undefined,
  method: string,
  path: string,
  now = Date.now(),
): { nodeId: string } | { refused: NodeTokenRefusal } {
  if (!header) return { refused: 'missing' };
  const m = /^DLS-Node ([0-9a-f-]{36})\.(\d{1,15})\.([A-Za-z0-9_-]{43})$/.exec(header.trim());
  if (!m || !UUID_RE.test(m[1])) return { refused: 'malformed' };
  const expires = Number(m[2]);
  const skew = 30_000;
  if (expires < now || expires > now + TOKEN_LIFETIME_MS + skew) return { refused: 'expired' };
  const want = mac(secret, m[1], expires, method, path);
  const got = Buffer.from(m[3], 'base64url');
  if (got.length !== want.length || !timingSafeEqual(got, want)) return { refused: 'bad-signature' };
  return { nodeId: m[1] };
}
