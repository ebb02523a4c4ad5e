import * as dgram from 'node:dgram';
import { decodeTftp, encodeAck, encodeError, encodeRrq, type TftpOptions } from '../../src/protocols/tftp/tftp.codec';
import { TftpErrorCode, TftpOpcode } from '../../src/protocols/tftp/tftp.constants';

/** Options of {@link tftpGet}. */
export interface TftpGetOptions {
  readonly host: string;
  readonly port: number;
  readonly file: string;
  readonly mode?: string;
  /** RFC 2347 options sent in the RRQ, e.g. `{ blksize: '1468', tsize: '0', windowsize: '4' }`. */
  readonly options?: Record<string, string>;
  /** Stop after the OACK and answer ERROR 8, like OVMF's tsize probe. */
  readonly probeOnly?: boolean;
  /** Retransmission timeout of this client. Default 500 ms. */
  readonly timeoutMs?: number;
  /** Retransmissions before giving up. Default 10. */
  readonly retries?: number;
  /** Local address to send from. Default 127.0.0.1 (a client in a namespace sends from its own address). */
  readonly bindAddress?: string;
}

/** Outcome of {@link tftpGet}. */
export interface TftpGetResult {
  readonly data: Buffer;
  readonly oack?: TftpOptions;
  readonly error?: { readonly code: number; readonly message: string };
  /** The server's TID (source port of its first answer). */
  readonly serverPort?: number;
  readonly blocks: number;
}

/**
 * Minimal TFTP read client for tests and benchmarks (RFC 1350 + RFC 2347/2348/2349 + RFC 7440 receiver side):
 * ACKs every `windowsize` blocks or the last one, re-ACKs the last in-order block when a gap shows, resends its last
 * packet on timeout, handles block-number roll-over, and answers a wrong TID with ERROR 5.
 */
export function tftpGet(opts: TftpGetOptions): Promise<TftpGetResult> {
  const timeoutMs = opts.timeoutMs ?? 500;
  const maxRetries = opts.retries ?? 10;
  let blksize = 512;
  let windowsize = 1;
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    const chunks: Buffer[] = [];
    let received = 0; // absolute number of in-order blocks received
    let sinceAck = 0;
    let serverPort: number | undefined;
    let oack: TftpOptions | undefined;
    let last: Buffer = encodeRrq(opts.file, opts.mode ?? 'octet', opts.options);
    let retries = 0;
    let timer: NodeJS.Timeout | undefined;
    let settled = false;

    const finish = (result: TftpGetResult | Error): void => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      socket.close();
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    const send = (buf: Buffer, port: number): void => {
      last = buf;
      socket.send(buf, port, opts.host);
    };
    const arm = (): void => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        if (++retries > maxRetries) {
          return finish(new Error(`tftpGet ${opts.file}: timed out after ${received} blocks`));
        }
        socket.send(last, serverPort ?? opts.port, opts.host);
        arm();
      }, timeoutMs);
    };

    socket.on('error', (err) => finish(err));
    socket.on('message', (msg, rinfo) => {
      if (serverPort === undefined) serverPort = rinfo.port;
      else if (rinfo.port !== serverPort) {
        socket.send(encodeError(TftpErrorCode.UNKNOWN_TRANSFER_ID, 'Unknown transfer ID'), rinfo.port, rinfo.address);
        return;
      }
      const packet = decodeTftp(msg);
      switch (packet.opcode) {
        case TftpOpcode.OACK: {
          if (received > 0) return;
          oack = packet.options;
          blksize = Number(packet.options.get('blksize') ?? 512);
          windowsize = Number(packet.options.get('windowsize') ?? 1);
          if (opts.probeOnly) {
            const abort = encodeError(TftpErrorCode.OPTION_NEGOTIATION_REFUSED, 'User aborted the transfer');
            socket.send(abort, serverPort, opts.host, () => finish({ data: Buffer.alloc(0), oack, serverPort, blocks: 0 }));
            return;
          }
          retries = 0;
          send(encodeAck(0), serverPort);
          arm();
          return;
        }
        case TftpOpcode.DATA: {
          const expected = (received + 1) & 0xffff;
          if (packet.block !== expected) {
            // Gap or duplicate: re-ACK the last in-order block (RFC 1350 §4, RFC 7440 §4).
            if (received > 0 || oack) send(encodeAck(received & 0xffff), serverPort);
            return;
          }
          received++;
          chunks.push(Buffer.from(packet.data));
          retries = 0;
          const final = packet.data.length < blksize;
          if (final) {
            // close only once the last ACK has left, or the server never sees it and retransmits until it gives up
            const result = { data: Buffer.concat(chunks), oack, serverPort, blocks: received };
            socket.send(encodeAck(packet.block), serverPort, opts.host, () => finish(result));
            return;
          }
          if (++sinceAck >= windowsize) {
            sinceAck = 0;
            send(encodeAck(packet.block), serverPort);
          }
          arm();
          return;
        }
        case TftpOpcode.ERROR:
          return finish({ data: Buffer.concat(chunks), oack, serverPort, blocks: received, error: packet });
        default:
          return;
      }
    });
    socket.bind(0, opts.bindAddress ?? '127.0.0.1', () => {
      send(last, opts.port);
      arm();
    });
  });
}

/** A datagram received by {@link TftpRawPeer}. */
export interface TftpRawMessage {
  readonly packet: ReturnType<typeof decodeTftp>;
  readonly port: number;
}

/**
 * A loopback UDP socket for step-by-step protocol tests: send raw packets, await the next decoded one (queued, with a
 * deadline instead of sleeps).
 */
export class TftpRawPeer {
  private readonly socket = dgram.createSocket('udp4');
  private readonly queue: TftpRawMessage[] = [];
  private waiter: ((m: TftpRawMessage) => void) | undefined;

  static async open(): Promise<TftpRawPeer> {
    const peer = new TftpRawPeer();
    await new Promise<void>((resolve) => peer.socket.bind(0, '127.0.0.1', resolve));
    return peer;
  }

  private constructor() {
    this.socket.on('message', (msg, rinfo) => {
      const m = { packet: decodeTftp(msg), port: rinfo.port };
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = undefined;
        w(m);
      } else this.queue.push(m);
    });
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(buf: Buffer, port: number): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(buf, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
  }

  /** The next datagram, or rejects after `timeoutMs`. */
  next(timeoutMs = 5000): Promise<TftpRawMessage> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`no datagram within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = (m) => {
        clearTimeout(timer);
        resolve(m);
      };
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
