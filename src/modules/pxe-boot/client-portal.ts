import { parseIpv4 } from '@common/net/ipv4';

/** An iSCSI portal: address and TCP port. */
export interface Portal {
  address: string;
  port: number;
}

/**
 * The iSCSI portal a boot script names, for a client that fetched the script over a connection to `reachedIp`.
 *
 * tgtd listens on `DLS_ISCSI_PORTAL` (`listen`); its default `0.0.0.0` means "every address", which is a fine listen
 * address but no place a client can connect to. So:
 * - an explicit (non-wildcard) portal address is kept: tgtd listens there and nowhere else;
 * - with a wildcard portal, `DLS_BOOT_SERVER_IP` (`override`) wins when it is set (NAT, a dedicated storage address);
 * - otherwise the address the client reached DLS on: the local address of its script request, which by construction
 *   is an address of ours the client can route to, on the boot network it is booting from.
 *
 * The port is always the listen port. Returns null when no usable address is left (the request arrived on a wildcard
 * or loopback address, e.g. through a local reverse proxy): the caller must then refuse rather than send the client
 * to an address it cannot reach.
 */
export function clientPortal(listen: Portal, reachedIp: string, override?: string | null): Portal | null {
  if (!isWildcard(listen.address)) return listen;
  if (override) return { address: override, port: listen.port };
  const n = parseIpv4(reachedIp);
  if (n === null || n === 0 || n >>> 24 === 127) return null;
  return { address: reachedIp, port: listen.port };
}

/** `0.0.0.0` (INADDR_ANY) or `::`: a listen address meaning "all addresses", never one to connect to. */
export function isWildcard(address: string): boolean {
  return address === '0.0.0.0' || address === '::' || address === '[::]';
}
