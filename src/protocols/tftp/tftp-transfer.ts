import { TFTP_BLOCK_MODULO, TFTP_MAX_WINDOWSIZE, TFTP_MIN_BLKSIZE, TFTP_MAX_BLKSIZE } from './tftp.constants';

/** Parameters of one read transfer (server → client), usually the result of option negotiation. */
export interface TftpReadTransferParams {
  /** Bytes to send (after any netascii conversion). */
  readonly length: number;
  /** Negotiated block size (RFC 2348); 512 without the option. */
  readonly blksize: number;
  /** Negotiated window size (RFC 7440); 1 = lock-step RFC 1350. */
  readonly windowsize: number;
  /** True when an OACK is sent first and the transfer waits for ACK 0 (RFC 2347). */
  readonly oack: boolean;
  /** Retransmissions allowed without progress before giving up. */
  readonly retries: number;
}

/** One DATA block to send: `block` is the 16-bit wire number, `index` the absolute 1-based block number. */
export interface TftpDataAction {
  readonly kind: 'data';
  readonly block: number;
  readonly index: number;
  readonly offset: number;
  readonly length: number;
}

/**
 * What the owner of the socket must do next.
 * - `oack`: (re)send the OACK.
 * - `data`: send that block.
 * - `complete`: the last block was acknowledged; close the transfer.
 * - `give-up`: the retry budget is spent; close the transfer (optionally tell the client).
 */
export type TftpTransferAction =
  { readonly kind: 'oack' } | TftpDataAction | { readonly kind: 'complete' } | { readonly kind: 'give-up'; readonly reason: string };

/** Phases of a read transfer. */
export type TftpTransferState = 'awaiting-oack-ack' | 'sending' | 'complete' | 'aborted' | 'timed-out';

/**
 * The sender side of an RRQ as a pure state machine: no sockets, no timers, no clock.
 *
 * The owner calls {@link start}, then {@link onAck} for every ACK from the client's TID, {@link onTimeout} when its
 * retransmission timer fires, and {@link onError} when the client sends ERROR. Each call returns the packets to send.
 *
 * Rules implemented:
 * - blocks are numbered from 1; the wire number is the absolute index mod 65536 (rollover to 0 after 65535);
 * - the file always ends with a block shorter than blksize — an empty one when the length is a multiple of blksize
 *   (RFC 1350 §6);
 * - with an OACK, data starts only after ACK 0 (RFC 2347);
 * - an ACK for block n (of the current window) slides the window to n+1 .. n+windowsize (RFC 7440 §4), so an ACK in
 *   the middle of a window restarts the window after it;
 * - duplicate and old ACKs are ignored: data is re-sent only on timeout, never on a duplicate ACK (RFC 1350 §4's
 *   "Sorcerer's Apprentice" bug, RFC 1123 §4.2.3.1);
 * - every timeout re-sends the whole current window (or the OACK) and spends one retry; progress refills the budget.
 */
export class TftpReadTransfer {
  /** Number of DATA blocks, including the final short (possibly empty) one. */
  readonly totalBlocks: number;
  private readonly params: TftpReadTransferParams;
  /** Highest absolute block acknowledged; -1 while the OACK is unacknowledged. */
  private acked: number;
  /** Highest absolute block sent so far (0 = only the OACK, or nothing). */
  private sentUpTo = 0;
  private retriesLeft: number;
  /** Whether start() has handed out the first packets (until then no ACK is expected). */
  private started = false;
  private _state: TftpTransferState;
  private _retransmissions = 0;

  constructor(params: TftpReadTransferParams) {
    if (!Number.isSafeInteger(params.length) || params.length < 0) throw new RangeError('length must be >= 0');
    if (!Number.isInteger(params.blksize) || params.blksize < TFTP_MIN_BLKSIZE || params.blksize > TFTP_MAX_BLKSIZE) {
      throw new RangeError(`blksize ${params.blksize} out of range`);
    }
    if (!Number.isInteger(params.windowsize) || params.windowsize < 1 || params.windowsize > TFTP_MAX_WINDOWSIZE) {
      throw new RangeError(`windowsize ${params.windowsize} out of range`);
    }
    if (!Number.isInteger(params.retries) || params.retries < 0) throw new RangeError('retries must be >= 0');
    this.params = params;
    this.totalBlocks = Math.floor(params.length / params.blksize) + 1;
    this.acked = params.oack ? -1 : 0;
    this.retriesLeft = params.retries;
    this._state = params.oack ? 'awaiting-oack-ack' : 'sending';
  }

  get state(): TftpTransferState {
    return this._state;
  }

  /** True once the transfer is complete, aborted or timed out. */
  get finished(): boolean {
    return this._state === 'complete' || this._state === 'aborted' || this._state === 'timed-out';
  }

  /** Bytes the client has acknowledged. */
  get bytesAcknowledged(): number {
    return this.acked <= 0 ? 0 : Math.min(this.acked * this.params.blksize, this.params.length);
  }

  /** Number of timeout-driven re-sends so far. */
  get retransmissions(): number {
    return this._retransmissions;
  }

  /** First packets of the transfer: the OACK, or the first window of DATA. */
  start(): TftpTransferAction[] {
    if (this.finished || this.sentUpTo > 0 || this.acked > 0) return [];
    this.started = true;
    if (this._state === 'awaiting-oack-ack') return [{ kind: 'oack' }];
    return this.sendWindow();
  }

  /**
   * Handles an ACK with 16-bit block number `block`. The absolute block it refers to is the latest one sent with that
   * wire number; ACKs for blocks already acknowledged (duplicates, stragglers) or never sent return no action.
   */
  onAck(block: number): TftpTransferAction[] {
    if (this.finished) return [];
    if (!Number.isInteger(block) || block < 0 || block >= TFTP_BLOCK_MODULO) return [];
    const absolute = this.sentUpTo - ((this.sentUpTo - block) & (TFTP_BLOCK_MODULO - 1));
    if (absolute <= this.acked) return [];
    this.acked = absolute;
    this.retriesLeft = this.params.retries;
    if (absolute === this.totalBlocks) {
      this._state = 'complete';
      return [{ kind: 'complete' }];
    }
    this._state = 'sending';
    return this.sendWindow();
  }

  /**
   * The ACK that acknowledges everything sent so far, and the DATA window {@link onAck} would answer it with — so a
   * socket can send that window the moment the ACK arrives and report it afterwards. Undefined when there is nothing
   * to send after it (that ACK completes the transfer) or the transfer is over. Pure: changes nothing.
   */
  expectedAck(): { readonly block: number; readonly firstIndex: number; readonly count: number } | undefined {
    if (this.finished || !this.started) return undefined;
    const last = this._state === 'awaiting-oack-ack' ? 0 : this.sentUpTo;
    if (last <= this.acked || last >= this.totalBlocks) return undefined;
    return {
      block: last % TFTP_BLOCK_MODULO,
      firstIndex: last + 1,
      count: Math.min(this.params.windowsize, this.totalBlocks - last),
    };
  }

  /** Handles an expired retransmission timer: re-send the OACK or the current window, or give up. */
  onTimeout(): TftpTransferAction[] {
    if (this.finished) return [];
    if (this.retriesLeft <= 0) {
      this._state = 'timed-out';
      return [{ kind: 'give-up', reason: `no ACK after ${this.params.retries} retransmissions` }];
    }
    this.retriesLeft--;
    this._retransmissions++;
    if (this._state === 'awaiting-oack-ack') return [{ kind: 'oack' }];
    return this.sendWindow();
  }

  /** The client sent ERROR (RFC 1350 §7: it terminates the transfer; nothing is sent back). */
  onError(): TftpTransferAction[] {
    if (!this.finished) this._state = 'aborted';
    return [];
  }

  /** The window after the last acknowledged block. */
  private sendWindow(): TftpDataAction[] {
    const first = this.acked + 1;
    const last = Math.min(this.acked + this.params.windowsize, this.totalBlocks);
    const actions: TftpDataAction[] = [];
    for (let index = first; index <= last; index++) {
      const offset = (index - 1) * this.params.blksize;
      actions.push({
        kind: 'data',
        block: index % TFTP_BLOCK_MODULO,
        index,
        offset,
        length: Math.min(this.params.blksize, this.params.length - offset),
      });
    }
    if (last > this.sentUpTo) this.sentUpTo = last;
    return actions;
  }
}
