/**
 * Short-lived tokens for the boot routes. DHCP hands iPXE `…/boot/<mac>.ipxe?t=<token>`; the token is an HMAC over
 * the MAC, an expiry and — in full DHCP mode — the address DLS leased to that MAC, so a copied URL goes stale and
 * only works from the leased address. Pure (no Nest, no I/O): the key is passed in.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** How long a script URL DLS hands out stays valid. A boot fetches it within seconds of the DHCP ACK. */
export const BOOT_TOKEN_TTL_SECONDS = 300;

const TOKEN_RE = /^([0-9a-z]{1,10})\.([A-Za-z0-9_-]{22})$/;

function mac16(key: Buffer, mac: string, expires: number, ip: string | null): Buffer {
  return createHmac('sha256', key)
    .update(`dls-boot|${mac}|${expires}|${ip ?? '-'}`)
    .digest()
    .subarray(0, 16);
}

/** A token for `mac` (canonical) valid until `nowSec + ttl`, bound to `ip` when given. URL-safe: `<exp36>.<b64url>`. */
export function signBootToken(key: Buffer, mac: string, ip: string | null, nowSec: number, ttl = BOOT_TOKEN_TTL_SECONDS): string {
  const expires = Math.floor(nowSec) + ttl;
  return `${expires.toString(36)}.${mac16(key, mac, expires, ip).toString('base64url')}`;
}

/** Why a token was refused, or null when it is good for `mac` (and `ip`, when the token was bound to one). */
export function checkBootToken(key: Buffer, token: unknown, mac: string, ip: string | null, nowSec: number): string | null {
  if (typeof token !== 'string' || token === '') return 'no token';
  const m = TOKEN_RE.exec(token);
  if (!m) return 'malformed token';
  const expires = Number.parseInt(m[1], 36);
  if (!Number.isSafeInteger(expires) || expires < nowSec) return 'expired token';
  const given = Buffer.from(m[2], 'base64url');
  const want = mac16(key, mac, expires, ip);
  return given.length === want.length && timingSafeEqual(given, want) ? null : 'token does not match this machine';
}
