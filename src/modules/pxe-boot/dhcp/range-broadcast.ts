/**
 * The one thing other modules may ask of the DHCP server's sockets: "send this datagram as a broadcast on the
 * interface network range R is served on". Wake-on-LAN uses it, so a magic packet leaves through the range's own
 * interface-bound socket (SO_BINDTODEVICE) and no other; nothing else of the bindings is exposed.
 */

/** Injection token of {@link RangeBroadcaster}; `PxeBootModule` binds it to the DHCP provider. */
export const RANGE_BROADCASTER = Symbol('RANGE_BROADCASTER');

/** Why a broadcast could not be sent on a range's interface. */
export enum RangeBroadcastErrorCode {
  /** DLS_DHCP_ENABLED=false on this node: it holds no interface-bound socket at all. */
  DHCP_DISABLED = 'DHCP_DISABLED',
  /** The range is not served by DHCP here (disabled, dhcp_mode off, no interface, or not loaded yet). */
  RANGE_NOT_SERVED = 'RANGE_NOT_SERVED',
  /** The range's interface is missing, down, without an IPv4 address, or its bind failed. */
  INTERFACE_UNAVAILABLE = 'INTERFACE_UNAVAILABLE',
  /** The range is only reached through a DHCP relay: a broadcast on the interface would not reach its hosts. */
  RANGE_RELAYED = 'RANGE_RELAYED',
  /** The kernel refused the datagram (send buffer full, interface went down). */
  BROADCAST_FAILED = 'BROADCAST_FAILED',
}

/** Where a broadcast left. */
export interface RangeBroadcastSent {
  /** The interface the datagram left through. */
  interface: string;
}

export interface RangeBroadcaster {
  /**
   * Sends `payload` to 255.255.255.255:`port` through the interface-bound socket of the interface range `rangeId`
   * is served on; the datagram leaves through that interface only. Synchronous and non-blocking. Throws a
   * DomainError with a {@link RangeBroadcastErrorCode} naming why when this node holds no socket for the
   * range (409) or the kernel refused the datagram (503).
   */
  broadcastOnRange(rangeId: string, port: number, payload: Buffer): RangeBroadcastSent;
}
