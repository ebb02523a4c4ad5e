/**
 * An IPv4 UDP socket that can be bound to one network interface (SO_BINDTODEVICE) and reports, for every
 * datagram, the interface it arrived on (IP_PKTINFO). The DHCP server opens one per configured interface on
 * 0.0.0.0:67, so it answers only requests from that segment and its 255.255.255.255 replies leave through that
 * interface rather than the default route's. Backed by the dls_net addon on the Node event loop (no threads).
 */
import { EventEmitter } from 'events';
import { loadNativeBinding, NativeUdpSocket } from './native-binding';
import { assertInterfaceName } from './net-interfaces';

export interface InterfaceUdpSocketOptions {
  /** Interface to bind to; omit for an ordinary socket that hears every interface. */
  interface?: string;
  /** Local IPv4 address, usually 0.0.0.0 (DHCP requests come from 0.0.0.0 to 255.255.255.255). */
  address: string;
  /** Local port; 0 picks an ephemeral one (see address()). */
  port: number;
}

/** Where a datagram came from and where it arrived. */
export interface InterfaceUdpMessageInfo {
  address: string;
  port: number;
  /** Kernel index of the arrival interface. */
  ifindex: number;
  /** Name of the arrival interface, when known. */
  ifname?: string;
  /**
   * The kernel's preferred source for a reply (ipi_spec_dst). For a broadcast on a host with several interfaces this
   * can be ANOTHER interface's address (seen in tests): use `destination` for unicasts, and the receiving
   * interface's own address for broadcasts.
   */
  localAddress: string | null;
  /** The IP destination (ipi_addr), e.g. 255.255.255.255 for a broadcast. */
  destination: string | null;
}

type InterfaceUdpSocketEvents = {
  message: [buf: Buffer, info: InterfaceUdpMessageInfo];
  error: [err: NodeJS.ErrnoException];
  close: [];
};

/**
 * Events: `'message'(buf, info)`, `'error'(err)` (receive errors; with no listener Node throws them), `'close'`.
 * Errors from open() and send() are thrown synchronously as Node-style system errors (`code` EADDRINUSE, ENODEV,
 * EACCES, EAGAIN…).
 */
export class InterfaceUdpSocket extends EventEmitter<InterfaceUdpSocketEvents> {
  private native: NativeUdpSocket | null = null;

  private constructor(readonly interfaceName: string | undefined) {
    super();
  }

  /** Opens, configures and binds the socket; throws on failure (nothing is left open). */
  static open(options: InterfaceUdpSocketOptions): InterfaceUdpSocket {
    if (options.interface !== undefined) assertInterfaceName(options.interface);
    const binding = loadNativeBinding();
    const socket = new InterfaceUdpSocket(options.interface);
    socket.native = new binding.UdpSocket(
      { interface: options.interface, address: options.address, port: options.port },
      (buf, info) =>
        socket.emit('message', buf, {
          address: info.address,
          port: info.port,
          ifindex: info.ifindex,
          ifname: socket.interfaceName ?? binding.ifIndexToName(info.ifindex) ?? undefined,
          localAddress: info.localAddress,
          destination: info.destination,
        }),
      (err) => socket.emit('error', err),
    );
    return socket;
  }

  /** True until close(). */
  get isOpen(): boolean {
    return this.native !== null;
  }

  /** The bound local address and port. */
  address(): { address: string; port: number } {
    if (!this.native) throw Object.assign(new Error('socket is closed'), { code: 'EBADF' });
    return this.native.address();
  }

  /**
   * Sends one datagram without blocking. Throws a system error when the kernel refuses it (EAGAIN when the send
   * buffer is full: the caller drops the packet, as DHCP tolerates loss).
   */
  send(buf: Buffer, port: number, address: string): void {
    if (!this.native) throw Object.assign(new Error('send on a closed socket'), { code: 'EBADF' });
    this.native.send(buf, port, address);
  }

  /** Closes the socket; idempotent. Emits 'close' once. */
  close(): void {
    if (!this.native) return;
    const native = this.native;
    this.native = null;
    native.close();
    this.emit('close');
  }

  /** Keeps the event loop alive while open (the default). */
  ref(): this {
    this.native?.ref();
    return this;
  }

  /** Lets the process exit while the socket is open. */
  unref(): this {
    this.native?.unref();
    return this;
  }
}
