/** Error codes of the interface-bound networking layer (DHCP sockets, router advertiser). */
export enum NetErrorCode {
  NATIVE_ADDON_NOT_BUILT = 'NATIVE_ADDON_NOT_BUILT',
  UNSUPPORTED_PLATFORM = 'UNSUPPORTED_PLATFORM',
  INVALID_INTERFACE_NAME = 'INVALID_INTERFACE_NAME',
  UNKNOWN_INTERFACE = 'UNKNOWN_INTERFACE',
}

/**
 * A configuration problem found before any socket exists (addon missing, bad or unknown interface name).
 * Socket-level failures are instead Node-style system errors with `code` = errno name (EADDRINUSE, ENODEV…).
 */
export class NetError extends Error {
  constructor(
    readonly code: NetErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'NetError';
  }
}
