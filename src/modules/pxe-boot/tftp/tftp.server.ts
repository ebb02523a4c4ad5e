import * as dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import { MalformedPacketError } from '@protocols/malformed-packet.error';
import { ackWord, decodeTftp, encodeData, encodeError, encodeOack, type TftpPacket, type TftpRequestPacket } from '@protocols/tftp/tftp.codec';
import { TftpErrorCode, TftpOpcode } from '@protocols/tftp/tftp.constants';
import { negotiateReadOptions, TFTP_DEFAULT_LIMITS } from '@protocols/tftp/tftp.options';
import { TftpReadTransfer, type TftpTransferAction } from '@protocols/tftp/tftp-transfer';
import { memorySource, TftpFileError, TftpFileStore, type TftpFileSource } from './tftp-file-store';
import { openTftpTransferSocket, type TftpTransferSocket } from './tftp-transfer-socket';

/** Where a datagram came from / goes to. */
export interface TftpPeer {
  readonly address: string;
  readonly port: number;
}

/** Reported when a read transfer has been accepted and its first packet is about to be sent. */
export interface TftpTransferStartEvent {
  readonly client: TftpPeer;
  readonly file: string;
  readonly size: number;
  readonly blksize: number;
  readonly windowsize: number;
  /** Whether an OACK was sent (the client asked for options we accept). */
  readonly oack: boolean;
  /** The tsize reported in the OACK, when the client asked (RFC 2349). */
  readonly tsize?: number;
}

/** Reported once per request that got past decoding, whether it succeeded, failed or was refused. */
export interface TftpTransferEndEvent {
  readonly client: TftpPeer;
  readonly file: string;
  /** Bytes acknowledged by the client. */
  readonly bytes: number;
  readonly ok: boolean;
  readonly error?: string;
  /**
   * True when the client ended it with an ERROR packet — e.g. OVMF's ERROR 8 after a tsize probe, which is normal
   * and not a server failure.
   */
  readonly abortedByClient?: boolean;
  readonly durationMs: number;
}

/** Minimal logger; Nest's `Logger` fits. */
export interface TftpLogger {
  debug(message: string): void;
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** Options of {@link TftpServer}. */
export interface TftpServerOptions {
  /** Directory served read-only; requests cannot leave its real path. */
  readonly root: string;
  /** Address to bind, e.g. the PXE interface's address; never 0.0.0.0 in tests. */
  readonly bindAddress: string;
  /** UDP port of the listener; 69 in production, 0 (ephemeral) in tests. */
  readonly port: number;
  /** Retransmission timeout when the client does not negotiate one (RFC 2349). Default 1000 ms. */
  readonly timeoutMs?: number;
  /** Retransmissions without progress before a transfer is abandoned. Default 5. */
  readonly retries?: number;
  /** Concurrent transfers; requests beyond it are dropped (the client retransmits its RRQ). Default 256. */
  readonly maxTransfers?: number;
  /** Largest blksize granted (RFC 2348). Default 1468 (one Ethernet frame, no IP fragmentation). */
  readonly maxBlksize?: number;
  /** Largest windowsize granted (RFC 7440). Default 64. */
  readonly maxWindowsize?: number;
  /**
   * Carry IPv4 transfers on the dls_net addon's socket (a window per sendmmsg, no per-block allocation) when it is
   * built; false forces Node's dgram (tests compare both). IPv6 always uses dgram. Default true.
   */
  readonly nativeSockets?: boolean;
  /**
   * A lone transfer (the only one open) waits for each ACK by polling its socket for up to this many microseconds
   * instead of sleeping in the event loop: on a LAN the ACK is back sooner than a sleep and a wake-up take, so a single
   * loader download is faster, at the price of one busy CPU while it lasts. Adaptive (a peer slower than this turns
   * it off until it answers faster again). With two transfers or more, each datagram keeps the event loop polling for
   * this long instead, an iteration that found nothing yielding the CPU to whatever else is runnable (tgtd, PostgreSQL).
   * 0 turns both off. Default 100.
   */
  readonly spinMicros?: number;
  /** In-memory cache bound, bytes. Default 64 MiB. */
  readonly maxCacheBytes?: number;
  /** Files above this size are streamed from disk and not cached. Default 16 MiB. */
  readonly maxCachedFileBytes?: number;
  readonly logger?: TftpLogger;
  readonly onTransferStart?: (event: TftpTransferStartEvent) => void;
  readonly onTransferEnd?: (event: TftpTransferEndEvent) => void;
  /**
   * Files made per request (a Secure Boot client's GRUB config, its per-boot initrd fragment): asked first with the
   * name as sent and the requester; bytes to serve, a TftpFileError to refuse, or null to serve from the root.
   */
  readonly generated?: (filename: string, client: TftpPeer) => Promise<Buffer | null>;
}

/** Counters since construction. */
export interface TftpServerStats {
  /** Datagrams received on the listener and on every transfer socket. */
  readonly received: number;
  /** Datagrams that did not decode (dropped). */
  readonly malformed: number;
  readonly transfersOk: number;
  /** Transfers the server ended: refused request, timeout, I/O error, shutdown. */
  readonly transfersFailed: number;
  /** Transfers the client ended with an ERROR packet (tsize probes included). */
  readonly transfersAborted: number;
  /** RRQs dropped because `maxTransfers` were active. */
  readonly droppedBusy: number;
  readonly active: number;
  readonly cacheHits: number;
  readonly cacheMisses: number;
}

interface ServerContext {
  readonly options: TftpServerOptions;
  readonly store: TftpFileStore;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly counters: MutableCounters;
  debug(build: () => string): void;
  finished(transfer: Transfer, event: TftpTransferEndEvent): void;
}

interface MutableCounters {
  received: number;
  malformed: number;
  transfersOk: number;
  transfersFailed: number;
  transfersAborted: number;
  droppedBusy: number;
}

/**
 * Read-only TFTP server (RFC 1350 with options: RFC 2347 OACK, RFC 2348 blksize, RFC 2349 timeout/tsize, RFC 7440
 * windowsize). Plain class without Nest decorators so a lifecycle provider can own it.
 *
 * The listener only accepts requests; each RRQ gets its own UDP socket on an ephemeral port (the server's TID,
 * RFC 1350 §4), driven by the pure {@link TftpReadTransfer} state machine. WRQ is refused with ERROR 2. Malformed
 * datagrams are counted and dropped; nothing thrown inside a socket handler escapes.
 */
export class TftpServer {
  private readonly store: TftpFileStore;
  private readonly counters: MutableCounters = {
    received: 0,
    malformed: 0,
    transfersOk: 0,
    transfersFailed: 0,
    transfersAborted: 0,
    droppedBusy: 0,
  };
  private readonly transfers = new Set<Transfer>();
  /** Requests in progress by client TID + request, so a retransmitted RRQ does not start a second transfer. */
  private readonly requestKeys = new Map<string, Transfer>();
  private readonly oneShotSockets = new Set<dgram.Socket>();
  private listener: dgram.Socket | undefined;
  private stopping = false;
  private readonly context: ServerContext;

  constructor(private readonly options: TftpServerOptions) {
    this.store = new TftpFileStore({
      root: options.root,
      maxCacheBytes: options.maxCacheBytes,
      maxCachedFileBytes: options.maxCachedFileBytes,
    });
    const logger = options.logger;
    this.context = {
      options,
      store: this.store,
      timeoutMs: options.timeoutMs ?? 1000,
      retries: options.retries ?? 5,
      counters: this.counters,
      debug: logger ? (build) => logger.debug(build()) : () => undefined,
      finished: (transfer, event) => this.onFinished(transfer, event),
    };
  }

  /** Binds the listener; resolves with the bound address (port 0 → the ephemeral port chosen). */
  async start(): Promise<TftpPeer> {
    if (this.listener) throw new Error('TftpServer already started');
    this.stopping = false;
    await this.store.init();
    const socket = dgram.createSocket({ type: isIPv6(this.options.bindAddress) ? 'udp6' : 'udp4' });
    this.listener = socket;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        socket.close();
        this.listener = undefined;
        reject(err);
      };
      socket.once('error', onError);
      socket.bind(this.options.port, this.options.bindAddress, () => {
        socket.off('error', onError);
        resolve();
      });
    });
    socket.on('error', (err) => this.options.logger?.error(`TFTP listener error: ${err.message}`));
    socket.on('message', (msg, rinfo) => this.onListenerMessage(msg, rinfo));
    const bound = socket.address();
    this.options.logger?.log(`TFTP listening on ${bound.address}:${bound.port}, root ${this.options.root}`);
    return { address: bound.address, port: bound.port };
  }

  /** Closes the listener and every transfer socket; transfers in progress end with ok=false. */
  async stop(): Promise<void> {
    this.stopping = true;
    const closing: Array<Promise<void>> = [];
    if (this.listener) {
      const l = this.listener;
      this.listener = undefined;
      closing.push(closeSocket(l));
    }
    for (const transfer of [...this.transfers]) closing.push(transfer.abort('server stopped'));
    for (const s of [...this.oneShotSockets]) closing.push(closeSocket(s));
    this.oneShotSockets.clear();
    await Promise.all(closing);
  }

  /** Counters since construction. */
  stats(): TftpServerStats {
    const cache = this.store.stats();
    return {
      ...this.counters,
      active: this.transfers.size,
      cacheHits: cache.hits,
      cacheMisses: cache.misses,
    };
  }

  private onListenerMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    this.counters.received++;
    let packet: TftpPacket;
    try {
      packet = decodeTftp(msg);
    } catch (err) {
      this.counters.malformed++;
      if (!(err instanceof MalformedPacketError)) this.options.logger?.error(`TFTP decoder bug: ${String(err)}`);
      this.context.debug(() => `TFTP malformed datagram from ${rinfo.address}:${rinfo.port}: ${String(err)}`);
      return;
    }
    if (this.stopping) return;
    const client: TftpPeer = { address: rinfo.address, port: rinfo.port };
    try {
      switch (packet.opcode) {
        case TftpOpcode.RRQ:
          this.onReadRequest(packet, client);
          return;
        case TftpOpcode.WRQ:
          this.context.debug(() => `TFTP WRQ ${JSON.stringify(packet.filename)} from ${peer(client)} refused`);
          this.refuse(client, packet.filename, TftpErrorCode.ACCESS_VIOLATION, 'Read-only server');
          return;
        default:
          // DATA/ACK/ERROR/OACK to the listener belong to no transfer: drop silently (no reflection).
          this.context.debug(() => `TFTP opcode ${packet.opcode} on the listener from ${peer(client)} ignored`);
          return;
      }
    } catch (err) {
      this.options.logger?.error(`TFTP request handling failed: ${String(err)}`);
    }
  }

  private onReadRequest(request: TftpRequestPacket, client: TftpPeer): void {
    const options = [...request.options].join(';');
    const key = `${client.address}|${client.port}|${request.filename}|${request.mode}|${options}`;
    if (this.requestKeys.has(key)) {
      this.context.debug(() => `TFTP duplicate RRQ ${JSON.stringify(request.filename)} from ${peer(client)} ignored`);
      return;
    }
    if (request.mode !== 'octet' && request.mode !== 'netascii') {
      this.refuse(client, request.filename, TftpErrorCode.ILLEGAL_OPERATION, `Unsupported mode ${request.mode}`);
      return;
    }
    const max = this.options.maxTransfers ?? 256;
    if (this.transfers.size >= max) {
      this.counters.droppedBusy++;
      this.options.logger?.warn(`TFTP busy (${max} transfers): RRQ from ${peer(client)} dropped`);
      return;
    }
    const transfer = new Transfer(this.context, client, request, key, {
      maxBlksize: this.options.maxBlksize ?? TFTP_DEFAULT_LIMITS.maxBlksize,
      maxWindowsize: this.options.maxWindowsize ?? TFTP_DEFAULT_LIMITS.maxWindowsize,
    });
    this.transfers.add(transfer);
    this.requestKeys.set(key, transfer);
    transfer.run();
  }

  /** Answers a request with ERROR from a fresh ephemeral port (the TID a transfer would have had). */
  private refuse(client: TftpPeer, file: string, code: TftpErrorCode, message: string): void {
    this.counters.transfersFailed++;
    const socket = dgram.createSocket({ type: isIPv6(this.options.bindAddress) ? 'udp6' : 'udp4' });
    this.oneShotSockets.add(socket);
    const done = (): void => {
      if (this.oneShotSockets.delete(socket)) socket.close();
    };
    socket.on('error', done);
    socket.bind(0, this.options.bindAddress, () => {
      socket.send(encodeError(code, message), client.port, client.address, done);
    });
    this.options.logger?.warn(`TFTP ${JSON.stringify(file)} for ${peer(client)} refused: ERROR ${code} ${message}`);
    this.safeCallback(() => this.options.onTransferEnd?.({ client, file, bytes: 0, ok: false, error: message, durationMs: 0 }));
  }

  private onFinished(transfer: Transfer, event: TftpTransferEndEvent): void {
    this.transfers.delete(transfer);
    if (this.requestKeys.get(transfer.key) === transfer) this.requestKeys.delete(transfer.key);
    if (event.ok) this.counters.transfersOk++;
    else if (event.abortedByClient) this.counters.transfersAborted++;
    else this.counters.transfersFailed++;
    const logger = this.options.logger;
    if (logger) {
      const what = `TFTP ${JSON.stringify(event.file)} to ${peer(event.client)}: ` + `${event.bytes} bytes in ${event.durationMs} ms`;
      if (event.ok) logger.log(`${what} ok`);
      else if (event.abortedByClient) logger.debug(`${what}, ended by client: ${event.error}`);
      else logger.warn(`${what} failed: ${event.error}`);
    }
    this.safeCallback(() => this.options.onTransferEnd?.(event));
  }

  private safeCallback(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.options.logger?.error(`TFTP callback threw: ${String(err)}`);
    }
  }
}

/**
 * How many expected ACKs a native transfer socket answers in a row before the state machine hears again. Anything
 * unexpected (a duplicate, an ERROR, the last ACK) reaches the state machine at once, and its retransmission timer
 * replays the chained ACKs whenever it fires (progress, not a timeout): so the bound only needs to keep the count
 * small, and a JS call every few windows would be a stall in the middle of each transfer (tens of µs, measured).
 */
const CHAIN_BUDGET = 65_536;
/** Default of {@link TftpServerOptions.spinMicros}. */
const DEFAULT_SPIN_MICROS = 100;

/** A window the transfer socket sends by itself when the ACK it was armed with arrives. */
interface ArmedReply {
  readonly firstIndex: number;
  readonly count: number;
}

/** One read transfer: its own socket (TID), timer and state machine. */
class Transfer {
  private socket: TftpTransferSocket | undefined;
  private source: TftpFileSource | undefined;
  private machine: TftpReadTransfer | undefined;
  private timer: NodeJS.Timeout | undefined;
  private timeoutMs: number;
  private oack: Buffer | undefined;
  private blksize = 512;
  /** The reply the socket is armed with (native sockets, in-memory files). */
  private armed: ArmedReply | undefined;
  /** Sends for disk-backed sources are serialised through this chain. */
  private queue: Promise<void> | undefined;
  private done = false;
  private closed: Promise<void> | undefined;
  private readonly startedAt = Date.now();

  constructor(
    private readonly ctx: ServerContext,
    private readonly client: TftpPeer,
    private readonly request: TftpRequestPacket,
    readonly key: string,
    private readonly limits: { maxBlksize: number; maxWindowsize: number },
  ) {
    this.timeoutMs = ctx.timeoutMs;
  }

  /** Opens the socket and the file, negotiates, sends the first packet. Never rejects. */
  run(): void {
    this.begin().catch((err: unknown) => this.finish(false, `internal error: ${String(err)}`));
  }

  private async begin(): Promise<void> {
    const socket = await openTftpTransferSocket(
      this.ctx.options.bindAddress,
      this.client,
      {
        onMessage: (msg, from, preSent, chained) => this.onMessage(msg, from, preSent, chained),
        onError: (err) => this.finish(false, `socket error: ${err.message}`),
      },
      this.ctx.options.nativeSockets ?? true,
    );
    this.socket = socket;
    if (this.done) {
      await socket.close();
      return;
    }

    let source: TftpFileSource;
    try {
      const mode = this.request.mode === 'netascii' ? 'netascii' : 'octet';
      const made = (await this.ctx.options.generated?.(this.request.filename, this.client)) ?? null;
      source = made ? memorySource(`generated:${this.request.filename}`, made) : await this.ctx.store.open(this.request.filename, mode);
    } catch (err) {
      if (err instanceof TftpFileError) {
        this.finish(false, `ERROR ${err.code} ${err.message}`, false, encodeError(err.code, err.message));
        return;
      }
      throw err;
    }
    if (this.done) {
      await source.close();
      return;
    }
    this.source = source;

    const negotiation = negotiateReadOptions(this.request.options, source.size, this.limits);
    if (negotiation.timeoutSeconds !== undefined) this.timeoutMs = negotiation.timeoutSeconds * 1000;
    if (negotiation.oack.length > 0) this.oack = encodeOack(negotiation.oack);
    this.blksize = negotiation.blksize;
    this.machine = new TftpReadTransfer({
      length: source.size,
      blksize: negotiation.blksize,
      windowsize: negotiation.windowsize,
      oack: negotiation.oack.length > 0,
      retries: this.ctx.retries,
    });
    this.ctx.debug(
      () =>
        `TFTP RRQ ${JSON.stringify(this.request.filename)} from ${peer(this.client)} tid=${socket.port} ` +
        `size=${source.size} blksize=${negotiation.blksize} windowsize=${negotiation.windowsize} ` +
        `oack=[${negotiation.oack.map(([k, v]) => `${k}=${v}`).join(' ')}] cached=${source.cached} socket=${socket.kind}`,
    );
    try {
      this.ctx.options.onTransferStart?.({
        client: this.client,
        file: this.request.filename,
        size: source.size,
        blksize: negotiation.blksize,
        windowsize: negotiation.windowsize,
        oack: negotiation.oack.length > 0,
        tsize: negotiation.tsize,
      });
    } catch (err) {
      this.ctx.options.logger?.error(`TFTP onTransferStart threw: ${String(err)}`);
    }
    this.execute(this.machine.start());
    // In-memory files on the native socket: the socket answers the expected ACK by itself for a while (see
    // setChain); the state machine replays those ACKs when the socket reports next, or when the timer fires.
    if (socket.canArm && source.bytes && !this.done)
      socket.setChain(negotiation.windowsize, this.machine.totalBlocks, CHAIN_BUDGET, this.ctx.options.spinMicros ?? DEFAULT_SPIN_MICROS);
  }

  /**
   * Replays into the state machine the `chained` ACKs the socket answered by itself: each was the expected ACK and
   * its answer the window {@link TftpReadTransfer.expectedAck} names, which has already left. Progress: the timer restarts.
   */
  private catchUp(chained: number): void {
    const machine = this.machine;
    if (chained <= 0 || !machine || this.done) return;
    this.ctx.counters.received += chained;
    for (let i = 0; i < chained; i++) {
      const next = machine.expectedAck();
      if (!next) break;
      machine.onAck(next.block); // answers with exactly the window the socket sent
    }
    const next = machine.expectedAck();
    this.armed = next && { firstIndex: next.firstIndex, count: next.count };
    this.armTimer();
  }

  /**
   * A datagram on the transfer's socket; `from` is set only when it did not come from the client's TID. `preSent`:
   * it was the ACK the socket was armed with, and the window armed with it has already left.
   */
  private onMessage(msg: Buffer, from: TftpPeer | undefined, preSent: boolean, chained = 0): void {
    this.ctx.counters.received++;
    if (this.done) return;
    this.catchUp(chained);
    if (from) {
      // RFC 1350 §4: a packet from a wrong TID gets ERROR 5 and does not disturb the transfer.
      this.ctx.debug(() => `TFTP wrong TID ${from.address}:${from.port} (transfer of ${peer(this.client)})`);
      this.socket?.sendTo(encodeError(TftpErrorCode.UNKNOWN_TRANSFER_ID, 'Unknown transfer ID'), from);
      return;
    }
    let packet: TftpPacket;
    try {
      packet = decodeTftp(msg);
    } catch (err) {
      this.ctx.counters.malformed++;
      this.ctx.debug(() => `TFTP malformed datagram from ${peer(this.client)}: ${String(err)}`);
      return;
    }
    try {
      switch (packet.opcode) {
        case TftpOpcode.ACK:
          if (this.machine) this.execute(this.machine.onAck(packet.block), preSent ? this.armed : undefined);
          return;
        case TftpOpcode.ERROR:
          this.machine?.onError();
          this.finish(false, `client ERROR ${packet.code} ${JSON.stringify(packet.message)}`, true);
          return;
        default:
          this.finish(
            false,
            `unexpected opcode ${packet.opcode} from client`,
            false,
            encodeError(TftpErrorCode.ILLEGAL_OPERATION, 'Illegal TFTP operation'),
          );
          return;
      }
    } catch (err) {
      this.finish(false, `internal error: ${String(err)}`);
    }
  }

  private onTimeout(): void {
    if (this.done || !this.machine) return;
    // The socket may have been answering ACKs by itself (chaining): that is progress, not a timeout.
    const chained = this.socket?.takeChained() ?? 0;
    if (chained > 0) return this.catchUp(chained);
    this.ctx.debug(() => `TFTP timeout ${peer(this.client)} ${JSON.stringify(this.request.filename)}, retransmitting`);
    this.execute(this.machine.onTimeout());
  }

  /** Performs the state machine's actions; blocks in `preSent` (a window the socket already sent) are not sent again. */
  private execute(actions: TftpTransferAction[], preSent?: ArmedReply): void {
    if (actions.length === 0 || this.done) return;
    const source = this.source!;
    const bytes = source.bytes;
    if (this.queue || !bytes) {
      const previous = this.queue ?? Promise.resolve();
      const next = previous
        .then(() => this.executeAsync(actions, source))
        .catch((err: unknown) => {
          this.finish(false, `read error: ${String(err)}`, false, encodeError(TftpErrorCode.NOT_DEFINED, 'Read error'));
        })
        .finally(() => {
          if (this.queue === next) this.queue = undefined;
        });
      this.queue = next;
      return;
    }
    // In memory: a window is consecutive blocks, handed to the socket as one batch (one sendmmsg natively). The
    // socket is also armed with what the state machine will answer the ACK of everything sent so far, so that window
    // leaves the moment the ACK arrives; the state machine still decides, and the check above skips only an equal
    // pre-sent window.
    const socket = this.socket!;
    const next = socket.canArm ? this.machine!.expectedAck() : undefined;
    const arm = next && { trigger: ackWord(next.block), firstIndex: next.firstIndex, count: next.count };
    let armedWithSend = false;
    let first = 0;
    let count = 0;
    const flush = (last: boolean): void => {
      if (count === 0) return;
      // The socket sent this very window when the armed ACK arrived; the state machine agreed, nothing to add.
      if (preSent && preSent.firstIndex === first && preSent.count === count) preSent = undefined;
      else if (last && arm) {
        socket.sendBlocks(bytes, first, count, this.blksize, arm); // sends, then arms: one native call
        armedWithSend = true;
      } else socket.sendBlocks(bytes, first, count, this.blksize);
      count = 0;
    };
    for (const action of actions) {
      if (action.kind === 'data') {
        if (count > 0 && action.index === first + count) count++;
        else {
          flush(false);
          first = action.index;
          count = 1;
        }
        continue;
      }
      flush(false);
      if (!this.handleControl(action)) return;
    }
    flush(true);
    this.armTimer();
    if (!socket.canArm) return;
    if (arm) {
      if (!armedWithSend) socket.armReply(arm.trigger, bytes, arm.firstIndex, arm.count, this.blksize);
      this.armed = arm;
    } else if (this.armed) {
      socket.armReply(0, bytes, 1, 0, this.blksize); // disarm: the next ACK completes the transfer
      this.armed = undefined;
    }
  }

  private async executeAsync(actions: TftpTransferAction[], source: TftpFileSource): Promise<void> {
    const data = actions.filter((a) => a.kind === 'data');
    let window: Buffer | undefined;
    let windowOffset = 0;
    if (data.length > 0) {
      windowOffset = data[0].offset;
      const last = data[data.length - 1];
      window = await source.read(windowOffset, last.offset + last.length - windowOffset);
    }
    if (this.done) return;
    for (const action of actions) {
      if (action.kind === 'data') {
        const start = action.offset - windowOffset;
        this.send(encodeData(action.block, window!.subarray(start, start + action.length)));
      } else if (!this.handleControl(action)) return;
    }
    this.armTimer();
  }

  /** Handles a non-data action; returns false when the transfer ended. */
  private handleControl(action: TftpTransferAction): boolean {
    switch (action.kind) {
      case 'oack':
        this.send(this.oack!);
        return true;
      case 'complete':
        this.finish(true);
        return false;
      case 'give-up':
        this.finish(false, `timeout: ${action.reason}`, false, encodeError(TftpErrorCode.NOT_DEFINED, 'Transfer timed out'));
        return false;
      default:
        return true;
    }
  }

  /** (Re)starts the retransmission timer; one timer object per transfer, refreshed (not re-created) per window. */
  private armTimer(): void {
    if (this.done) return;
    if (this.timer) {
      this.timer.refresh();
      return;
    }
    this.timer = setTimeout(() => this.onTimeout(), this.timeoutMs);
    this.timer.unref();
  }

  private send(buf: Buffer): void {
    if (!this.done) this.socket?.send(buf);
  }

  /** Ends the transfer from outside (server stop). */
  abort(reason: string): Promise<void> {
    this.finish(false, reason);
    return this.closed ?? Promise.resolve();
  }

  /** Ends the transfer once; `finalPacket` (an ERROR) is sent before the socket closes. */
  private finish(ok: boolean, error?: string, abortedByClient = false, finalPacket?: Buffer): void {
    if (this.done) return;
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const closing: Array<Promise<void>> = [];
    if (this.socket) closing.push(this.socket.close(finalPacket));
    if (this.source) closing.push(this.source.close());
    this.closed = Promise.all(closing).then(() => undefined);
    this.ctx.finished(this, {
      client: this.client,
      file: this.request.filename,
      bytes: this.machine?.bytesAcknowledged ?? 0,
      ok,
      ...(error !== undefined ? { error } : {}),
      ...(abortedByClient ? { abortedByClient } : {}),
      durationMs: Date.now() - this.startedAt,
    });
  }
}

function peer(p: TftpPeer): string {
  return `${p.address}:${p.port}`;
}

function closeSocket(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}
