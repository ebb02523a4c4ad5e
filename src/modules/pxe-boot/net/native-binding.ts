/**
 * Loads the `dls_net` native addon (native/ → native/build/Release/dls_net.node): interface-bound UDP sockets
 * with IP_PKTINFO, a raw ICMPv6 socket, and TFTP transfer sockets that send a window of DATA blocks in one
 * sendmmsg — none of which Node's dgram offers. Loaded lazily, so code that
 * merely imports the wrappers works without a built addon until a socket is opened.
 */
import { existsSync } from 'fs';
import { dirname, join } from 'path';
import { NetError, NetErrorCode } from './net.errors';

/** Where a datagram came from and where it arrived, from recvmsg + IP_PKTINFO. */
export interface NativeUdpMessageInfo {
  address: string;
  port: number;
  /** Index of the interface the datagram arrived on (ipi_ifindex). */
  ifindex: number;
  /** Local address the kernel would answer from (ipi_spec_dst), e.g. the interface address for a broadcast. */
  localAddress: string | null;
  /** Destination address in the IP header (ipi_addr), e.g. 255.255.255.255. */
  destination: string | null;
  truncated: boolean;
}

export interface NativeUdpSocket {
  /** sendto without blocking; throws a system error (EAGAIN, ENETUNREACH…). Returns bytes sent. */
  send(buf: Buffer, port: number, address: string): number;
  /** Idempotent. */
  close(): void;
  address(): { address: string; port: number };
  ref(): NativeUdpSocket;
  unref(): NativeUdpSocket;
}

/** Metadata of one received ICMPv6 message (IPV6_RECVHOPLIMIT, IPV6_RECVPKTINFO). */
export interface NativeIcmpv6MessageInfo {
  /** IPv6 source without zone. */
  address: string;
  /** IP hop limit, -1 if the kernel did not report it. */
  hopLimit: number;
  ifindex: number;
  destination: string | null;
}

export interface NativeRaSocket {
  /** Sends an ICMPv6 message (checksum filled in by the kernel) with hop limit 255, zone = the bound interface. */
  send(icmp: Buffer, destination: string): number;
  close(): void;
  ref(): NativeRaSocket;
  unref(): NativeRaSocket;
  readonly ifindex: number;
}

/** The UDP socket of one TFTP read transfer (native/src/transfer_socket.cc): IPv4, bound to <address>:0, one peer. */
export interface NativeTransferSocket {
  /** One datagram to the peer; bytes sent, or -1 when the send buffer is full (dropped). Throws other errors. */
  send(buf: Buffer): number;
  /** One datagram to someone else (ERROR 5 to a wrong TID). */
  sendTo(buf: Buffer, port: number, address: string): number;
  /**
   * What {@link sendBlocks} sends from, for the rest of the transfer (both buffers are kept referenced): block `index`
   * is `headers[(index & 0xffff) * 4, +4)` then `data[(index - 1) * blksize, +blksize)` (shorter at the end).
   */
  setSource(headers: Buffer, data: Buffer, blksize: number): void;
  /**
   * DATA blocks `firstIndex` .. `firstIndex + count - 1` (absolute, 1-based): one sendmsg for one block, sendmmsg for
   * a window. With `trigger`, `armFirst`, `armCount`, also arms the next reply ({@link armReply}) in the same call.
   * Returns the datagrams sent (fewer when the send buffer filled up).
   */
  sendBlocks(firstIndex: number, count: number, trigger?: number, armFirst?: number, armCount?: number): number;
  /**
   * One-shot: when the next datagram from the peer is exactly the 4 bytes `trigger` (big-endian), send blocks
   * `firstIndex` .. `firstIndex + count - 1` at once, then report the datagram with `preSent` true. Count 0 disarms.
   */
  armReply(trigger: number, firstIndex: number, count: number): void;
  /**
   * After an armed window leaves, arm the window of `windowsize` blocks (up to `totalBlocks`) that answers its last
   * ACK, up to `budget` times before calling JS again (0: off); the callback's `chained` counts those ACKs. With
   * `spinMicros` > 0, while this is the process's only open transfer socket, the ACK of a chained window is awaited by
   * polling the socket for up to that long instead of going back to the event loop (adaptive: a wait that runs out
   * stops it until the peer answers within the budget again); with two or more open, each datagram keeps the event
   * loop polling for that long instead (see `loopSpinStats`).
   */
  setChain(windowsize: number, totalBlocks: number, budget: number, spinMicros?: number): void;
  /** The ACKs answered by chaining since JS last heard (resets the count). */
  takeChained(): number;
  /** Idempotent. */
  close(): void;
  address(): { address: string; port: number };
  unref(): NativeTransferSocket;
  /** Windows sent as one UDP GSO send; ACK waits spinning served; waits where it ran out (see setChain). */
  stats(): { gsoSends: number; spinHits: number; spinMisses: number };
}

/** The addon's exports (see native/src/addon.cc). */
export interface DlsNetBinding {
  UdpSocket: new (
    options: { interface?: string; address: string; port: number },
    onMessage: (buf: Buffer, info: NativeUdpMessageInfo) => void,
    onError: (err: NodeJS.ErrnoException) => void,
  ) => NativeUdpSocket;
  /** Each datagram lands in `receiveBuffer` (valid until the next callback); `length` above its size = truncated. */
  TransferSocket: {
    new (
      options: { address: string; peerAddress: string; peerPort: number; receiveBuffer: Buffer },
      onMessage: (length: number, fromPeer: boolean, address?: string, port?: number, preSent?: boolean, chained?: number) => void,
      onError: (err: NodeJS.ErrnoException) => void,
    ): NativeTransferSocket;
    /**
     * A window of blocks leaves as one UDP GSO send (UDP_SEGMENT: the kernel cuts it into the datagrams) while this is
     * true, the default; the first refusal by the kernel turns it off for the process, and sendmmsg carries windows.
     * Returns the previous value.
     */
    setGso(enabled: boolean): boolean;
    /**
     * This thread's event-loop polling (native/src/loop_spin.h): while two transfer sockets or more are open, a
     * datagram keeps the loop polling for the sender's `spinMicros`, an iteration that found nothing yielding the CPU.
     * Spins started, iterations spent polling, of which yielded, and whether one runs now.
     */
    loopSpinStats(): { spins: number; iterations: number; yields: number; running: boolean };
    /**
     * Lock-step blocks answering ACKs while other transfers are open are queued during the poll phase and leave
     * together, one io_uring_enter per loop iteration (native/src/send_ring.h), where the kernel allows io_uring;
     * false sends each at once. Returns the previous value.
     */
    setRing(enabled: boolean): boolean;
    /** This thread's ring: whether io_uring is usable, system calls that submitted, datagrams sent, failed sends. */
    ringStats(): { available: boolean; submits: number; sends: number; failed: number };
  };
  RaSocket: new (
    ifname: string,
    icmpTypes: number[],
    onMessage: (icmp: Buffer, info: NativeIcmpv6MessageInfo) => void,
    onError: (err: NodeJS.ErrnoException) => void,
  ) => NativeRaSocket;
  ifIndexToName(index: number): string | null;
  ifNameToIndex(name: string): number;
}

const ADDON_RELATIVE_PATH = join('native', 'build', 'Release', 'dls_net.node');
const MAX_LEVELS = 8;

let cached: DlsNetBinding | undefined;

/**
 * The repository root: the nearest ancestor of this file holding `native/binding.gyp`. Works from `src/…`
 * (ts-jest, ts-node) and from the compiled `dist/src/…` alike.
 */
export function findRepoRoot(start: string = __dirname): string {
  let dir = start;
  for (let i = 0; i < MAX_LEVELS; i++) {
    if (existsSync(join(dir, 'native', 'binding.gyp'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new NetError(NetErrorCode.NATIVE_ADDON_NOT_BUILT, `cannot find native/binding.gyp above ${start}`);
}

/** Absolute path of the compiled addon. */
export function nativeAddonPath(): string {
  return join(findRepoRoot(), ADDON_RELATIVE_PATH);
}

/** Loads (once) and returns the addon; throws NetError NATIVE_ADDON_NOT_BUILT with the fix when it is missing. */
export function loadNativeBinding(): DlsNetBinding {
  if (cached) return cached;
  if (process.platform !== 'linux') {
    throw new NetError(NetErrorCode.UNSUPPORTED_PLATFORM, `dls_net needs Linux, not ${process.platform}`);
  }
  const file = nativeAddonPath();
  if (!existsSync(file)) {
    throw new NetError(NetErrorCode.NATIVE_ADDON_NOT_BUILT, `${file} is missing: run npm run build:native`);
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  cached = require(file) as DlsNetBinding;
  return cached;
}
