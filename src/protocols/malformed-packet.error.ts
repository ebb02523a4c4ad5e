/**
 * Thrown by every protocol decoder under `src/protocols/` when a byte string is not a valid packet.
 * Servers catch it, count the drop and log it at debug level; it never escapes a socket handler.
 */
export class MalformedPacketError extends Error {
  constructor(
    readonly protocol: 'dhcp' | 'tftp' | 'ipxe' | 'cpio' | 'wol' | 'tgtadm',
    message: string,
  ) {
    super(`${protocol}: ${message}`);
    this.name = 'MalformedPacketError';
  }
}
