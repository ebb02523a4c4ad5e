import * as dgram from 'node:dgram';
import { isIPv4, isIPv6 } from 'node:net';
import { dataHeaderTable, encodeData } from '@protocols/tftp/tftp.codec';
import { TFTP_ACK_LENGTH } from '@protocols/tftp/tftp.constants';
import { loadNativeBinding, type DlsNetBinding } from '../net/native-binding';

/** Where a datagram came from / goes to. */
export interface TftpEndpoint {
  readonly address: string;
  readonly port: number;
}

/** A reply to arm together with a send: `trigger` is the ACK's 4 bytes, then the blocks to answer it with. */
export interface TftpArmedReply {
  readonly trigger: number;
  readonly firstIndex: number;
  readonly count: number;
}

/** Callbacks of a {@link TftpTransferSocket}. */
export interface TftpTransferSocketHandlers {
  /**
   * A datagram; `from` is omitted when it came from the peer (the usual case), so nothing is allocated for it. `buf`
   * may be a view of a receive buffer that the next datagram overwrites: decode it before returning, keep no view.
   * `preSent` is true when the datagram was the trigger of {@link TftpTransferSocket.armReply} and its blocks have
   * already been sent. `chained`: how many armed ACKs the socket answered by itself (see
   * {@link TftpTransferSocket.setChain}) since the handler last heard from it; they came before this datagram.
   */
  onMessage(buf: Buffer, from: TftpEndpoint | undefined, preSent: boolean, chained: number): void;
  /** A socket error (the transfer ends). */
  onError(err: Error): void;
}

/**
 * The socket of one TFTP read transfer: bound to an ephemeral port (the server's TID, RFC 1350 §4), talking to one
 * peer (the client's TID). Two implementations with one contract:
 * - native (IPv4 with the dls_net addon built): a window of DATA blocks is one sendmmsg(2), each datagram gathered
 *   from the shared header table and a view of the cached file — no allocation, copy or callback per block;
 * - Node's dgram (IPv6, or no addon): each block is encoded and sent on its own.
 */
export interface TftpTransferSocket {
  /** Local port (the server's TID). */
  readonly port: number;
  /** Which implementation carries the transfer (logged at debug). */
  readonly kind: 'native' | 'dgram';
  /** One datagram to the peer. A full send buffer drops it silently: the retransmission timer covers the loss. */
  send(buf: Buffer): void;
  /** One datagram to another endpoint (ERROR 5 to a wrong TID). */
  sendTo(buf: Buffer, to: TftpEndpoint): void;
  /**
   * DATA blocks `firstIndex` .. `firstIndex + count - 1` (absolute, 1-based) of `data`, each `blksize` bytes (the
   * last one shorter, possibly empty), with wire block numbers `index mod 65536`. `data` and `blksize` stay the same
   * for the whole transfer.
   */
  sendBlocks(data: Buffer, firstIndex: number, count: number, blksize: number, arm?: TftpArmedReply): void;
  /**
   * Arms a one-shot reply: when the next datagram from the peer is exactly the 4 bytes `trigger` (big-endian), the
   * socket sends those blocks (as {@link sendBlocks}) at once, then reports the datagram with `preSent` — the lock-step
   * ACK → DATA turn without a trip through JS first. `count` 0 disarms. Returns false when this implementation has no
   * such path (dgram): then nothing is ever pre-sent.
   */
  armReply(trigger: number, data: Buffer, firstIndex: number, count: number, blksize: number): boolean;
  /**
   * Chaining (native only): once an armed window has left, the socket arms itself with the next window of
   * `windowsize` blocks (up to `totalBlocks`) answering that window's last ACK — the RFC 7440 rule — up to `budget`
   * times in a row before the handler hears again (budget 0: off). Anything else reaches the handler, which replays
   * the `chained` ACKs into its state machine first. Set once per transfer, after the first armReply/sendBlocks.
   * `spinMicros`: see `NativeTransferSocket.setChain` (net/native-binding.ts).
   */
  setChain(windowsize: number, totalBlocks: number, budget: number, spinMicros?: number): void;
  /** The ACKs chaining answered since the handler last heard (resets the count); 0 when there is no chaining. */
  takeChained(): number;
  /** The native socket's counters (see `NativeTransferSocket.stats`); undefined for dgram. */
  stats?(): { gsoSends: number; spinHits: number; spinMisses: number };
  /** Whether {@link armReply} does anything here (the native socket). */
  readonly canArm: boolean;
  /** Closes the socket once `last` (e.g. a final ERROR) has been handed to the kernel. Idempotent. */
  close(last?: Buffer): Promise<void>;
}

let native: DlsNetBinding | null | undefined;

/** The addon when it is built and loads; null otherwise (checked once). */
function nativeBinding(): DlsNetBinding | null {
  if (native === undefined) {
    try {
      native = loadNativeBinding();
      if (typeof native.TransferSocket !== 'function') native = null; // an addon built before TransferSocket existed
    } catch {
      native = null;
    }
  }
  return native;
}

/**
 * Opens the socket of a transfer from `bindAddress` to `peer`. Uses the native socket for IPv4 when available
 * unless `preferNative` is false. Rejects when the bind fails.
 */
export async function openTftpTransferSocket(
  bindAddress: string,
  peer: TftpEndpoint,
  handlers: TftpTransferSocketHandlers,
  preferNative = true,
): Promise<TftpTransferSocket> {
  const binding = preferNative && isIPv4(bindAddress) && isIPv4(peer.address) ? nativeBinding() : null;
  if (binding) return openNative(binding, bindAddress, peer, handlers);
  return openDgram(bindAddress, peer, handlers);
}

/**
 * Largest datagram a transfer socket takes in: clients send ACKs (4 bytes) and ERRORs (a short message); anything
 * longer arrives truncated and is counted as malformed.
 */
const RECEIVE_BUFFER_BYTES = 2048;
const EMPTY = Buffer.alloc(0);

function openNative(binding: DlsNetBinding, bindAddress: string, peer: TftpEndpoint, handlers: TftpTransferSocketHandlers): TftpTransferSocket {
  const receiveBuffer = Buffer.allocUnsafeSlow(RECEIVE_BUFFER_BYTES);
  // Nearly every datagram is a 4-byte ACK: one view of the receive buffer serves them all (no allocation per ACK).
  const ackView = receiveBuffer.subarray(0, TFTP_ACK_LENGTH);
  const view = (length: number): Buffer =>
    length === TFTP_ACK_LENGTH ? ackView : length <= RECEIVE_BUFFER_BYTES ? receiveBuffer.subarray(0, length) : EMPTY;
  const socket = new binding.TransferSocket(
    { address: bindAddress, peerAddress: peer.address, peerPort: peer.port, receiveBuffer },
    (length, fromPeer, address, port, preSent, chained) =>
      handlers.onMessage(view(length), fromPeer ? undefined : { address: address!, port: port! }, preSent === true, chained ?? 0),
    (err) => handlers.onError(err),
  );
  const port = socket.address().port;
  let open = true;
  let source: Buffer | undefined;
  const useSource = (data: Buffer, blksize: number): void => {
    if (source === data) return;
    socket.setSource(dataHeaderTable(), data, blksize);
    source = data;
  };
  return {
    port,
    kind: 'native',
    // A refused send (ENETUNREACH while an interface flaps, ENOBUFS…) is a lost datagram: the retransmission timer
    // covers it and gives up after its budget, exactly as with dgram below.
    send: (buf) => {
      if (open) ignoreErrors(() => socket.send(buf));
    },
    sendTo: (buf, to) => {
      if (open) ignoreErrors(() => socket.sendTo(buf, to.port, to.address));
    },
    sendBlocks: (data, firstIndex, count, blksize, arm) => {
      if (!open) return;
      useSource(data, blksize);
      ignoreErrors(() => (arm ? socket.sendBlocks(firstIndex, count, arm.trigger, arm.firstIndex, arm.count) : socket.sendBlocks(firstIndex, count)));
    },
    canArm: true,
    setChain: (windowsize, totalBlocks, budget, spinMicros = 0) => {
      if (open) socket.setChain(windowsize, totalBlocks, budget, spinMicros);
    },
    takeChained: () => (open ? socket.takeChained() : 0),
    stats: () => socket.stats(),
    armReply: (trigger, data, firstIndex, count, blksize) => {
      if (!open) return true;
      useSource(data, blksize);
      socket.armReply(trigger, firstIndex, count);
      return true;
    },
    close: (last) => {
      if (!open) return Promise.resolve();
      open = false;
      if (last) {
        try {
          socket.send(last); // sendto is synchronous: the datagram is with the kernel when it returns
        } catch {
          // the transfer is ending anyway
        }
      }
      socket.close();
      return Promise.resolve();
    },
  };
}

async function openDgram(bindAddress: string, peer: TftpEndpoint, handlers: TftpTransferSocketHandlers): Promise<TftpTransferSocket> {
  const socket = dgram.createSocket({ type: isIPv6(bindAddress) ? 'udp6' : 'udp4' });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, bindAddress, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  socket.on('error', (err) => handlers.onError(err));
  socket.on('message', (msg, rinfo) =>
    handlers.onMessage(
      msg,
      rinfo.address === peer.address && rinfo.port === peer.port ? undefined : { address: rinfo.address, port: rinfo.port },
      false,
      0,
    ),
  );
  let open = true;
  let closed: Promise<void> | undefined;
  const send = (buf: Buffer): void => {
    if (open) socket.send(buf, peer.port, peer.address, ignore);
  };
  return {
    port: socket.address().port,
    kind: 'dgram',
    send,
    sendTo: (buf, to) => {
      if (open) socket.send(buf, to.port, to.address, ignore);
    },
    sendBlocks: (data, firstIndex, count, blksize) => {
      for (let index = firstIndex; index < firstIndex + count; index++) {
        const offset = (index - 1) * blksize;
        send(encodeData(index % 0x10000, data.subarray(offset, Math.min(offset + blksize, data.length))));
      }
    },
    armReply: () => false,
    setChain: () => undefined,
    takeChained: () => 0,
    canArm: false,
    close: (last) => {
      if (closed) return closed;
      open = false;
      closed = new Promise<void>((resolve) => {
        const done = (): void => {
          try {
            socket.close(() => resolve());
          } catch {
            resolve(); // already closed
          }
        };
        if (!last) return done();
        try {
          socket.send(last, peer.port, peer.address, done);
        } catch {
          done();
        }
      });
      return closed;
    },
  };
}

const ignore = (): void => undefined;

function ignoreErrors(fn: () => unknown): void {
  try {
    fn();
  } catch {
    // see the note in openNative
  }
}
