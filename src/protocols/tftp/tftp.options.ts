import type { TftpOptions } from './tftp.codec';
import {
  TFTP_DEFAULT_BLKSIZE,
  TFTP_ETHERNET_MAX_BLKSIZE,
  TFTP_MAX_BLKSIZE,
  TFTP_MAX_TIMEOUT_S,
  TFTP_MAX_WINDOWSIZE,
  TFTP_MIN_BLKSIZE,
  TFTP_MIN_TIMEOUT_S,
  TFTP_MIN_WINDOWSIZE,
  TFTP_OPTION_BLKSIZE,
  TFTP_OPTION_TIMEOUT,
  TFTP_OPTION_TSIZE,
  TFTP_OPTION_WINDOWSIZE,
} from './tftp.constants';

/** What the server is willing to grant, whatever the client asks for. */
export interface TftpServerLimits {
  /** Largest blksize granted (RFC 2348 lets the server answer smaller). Default 1468: one Ethernet frame. */
  readonly maxBlksize?: number;
  /** Largest windowsize granted (RFC 7440 §3 lets the server answer smaller). Default 64. */
  readonly maxWindowsize?: number;
}

/** The outcome of negotiation: the parameters of the transfer and the OACK to send (none if `oack` is empty). */
export interface TftpNegotiation {
  readonly blksize: number;
  readonly windowsize: number;
  /** Retransmission timeout the client asked for (RFC 2349), in seconds; undefined when not negotiated. */
  readonly timeoutSeconds: number | undefined;
  /** The transfer size reported to the client (RFC 2349), when it asked and the size is known. */
  readonly tsize: number | undefined;
  /** Accepted options, in the client's order, lower-case names and decimal values. Empty → no OACK (RFC 2347). */
  readonly oack: ReadonlyArray<readonly [string, string]>;
}

/** Default server limits (see {@link TftpServerLimits}). */
export const TFTP_DEFAULT_LIMITS: Required<TftpServerLimits> = {
  maxBlksize: TFTP_ETHERNET_MAX_BLKSIZE,
  maxWindowsize: 64,
};

const DECIMAL = /^[0-9]{1,15}$/;

/** Strict decimal parse: digits only (no sign, blanks, exponent or hex), up to 15 digits. */
function parseDecimal(value: string): number | undefined {
  return DECIMAL.test(value) ? Number(value) : undefined;
}

/**
 * Negotiates the options of a read request (RFC 2347) — pure, no I/O.
 *
 * - `blksize` (RFC 2348): values below 8 or not decimal are ignored; larger values are clamped to the server maximum
 *   (itself capped at 65464) — the server "may reply with a smaller value".
 * - `timeout` (RFC 2349): 1..255 s accepted as sent; anything else is ignored (the RFC does not allow a different
 *   value in the OACK).
 * - `tsize` (RFC 2349): answered with `fileSize` when the request carries a decimal value (normally 0) and the size is
 *   known; otherwise ignored.
 * - `windowsize` (RFC 7440): 1..65535 accepted and clamped to the server maximum; anything else is ignored.
 * - every other option is ignored (RFC 2347: "unrecognized options are ignored").
 */
export function negotiateReadOptions(requested: TftpOptions, fileSize: number | undefined, limits: TftpServerLimits = {}): TftpNegotiation {
  const maxBlksize = clamp(limits.maxBlksize ?? TFTP_DEFAULT_LIMITS.maxBlksize, TFTP_MIN_BLKSIZE, TFTP_MAX_BLKSIZE);
  const maxWindowsize = clamp(limits.maxWindowsize ?? TFTP_DEFAULT_LIMITS.maxWindowsize, TFTP_MIN_WINDOWSIZE, TFTP_MAX_WINDOWSIZE);
  let blksize = TFTP_DEFAULT_BLKSIZE;
  let windowsize = 1;
  let timeoutSeconds: number | undefined;
  let tsize: number | undefined;
  const oack: Array<readonly [string, string]> = [];

  for (const [name, raw] of requested) {
    const value = parseDecimal(raw);
    switch (name) {
      case TFTP_OPTION_BLKSIZE:
        if (value === undefined || value < TFTP_MIN_BLKSIZE) break;
        blksize = Math.min(value, maxBlksize);
        oack.push([name, String(blksize)]);
        break;
      case TFTP_OPTION_TIMEOUT:
        if (value === undefined || value < TFTP_MIN_TIMEOUT_S || value > TFTP_MAX_TIMEOUT_S) break;
        timeoutSeconds = value;
        oack.push([name, String(value)]);
        break;
      case TFTP_OPTION_TSIZE:
        if (value === undefined || fileSize === undefined || !Number.isSafeInteger(fileSize) || fileSize < 0) break;
        tsize = fileSize;
        oack.push([name, String(fileSize)]);
        break;
      case TFTP_OPTION_WINDOWSIZE:
        if (value === undefined || value < TFTP_MIN_WINDOWSIZE || value > TFTP_MAX_WINDOWSIZE) break;
        windowsize = Math.min(value, maxWindowsize);
        oack.push([name, String(windowsize)]);
        break;
      default:
        break;
    }
  }
  return { blksize, windowsize, timeoutSeconds, tsize, oack };
}

function clamp(value: number, min: number, max: number): number {
  if (!Number.isFinite(value)) return max;
  return Math.min(max, Math.max(min, Math.floor(value)));
}
