/**
 * TFTP wire constants. Framework-free: imported by the codec, the option negotiation, the transfer state machine and
 * the server that owns the sockets.
 */

/** Well-known TFTP server port (RFC 1350 §4, "initial connection protocol"). */
export const TFTP_PORT = 69;

/** Packet opcodes (RFC 1350 §5; OACK from RFC 2347 "Packet Formats"). */
export enum TftpOpcode {
  /** Read request. */
  RRQ = 1,
  /** Write request. */
  WRQ = 2,
  /** Data block. */
  DATA = 3,
  /** Acknowledgement. */
  ACK = 4,
  /** Error; terminates the transfer (RFC 1350 §7). */
  ERROR = 5,
  /** Option acknowledgement (RFC 2347). */
  OACK = 6,
}

/** Error codes carried in an ERROR packet (RFC 1350 Appendix "Error Codes"; code 8 from RFC 2347). */
export enum TftpErrorCode {
  NOT_DEFINED = 0,
  FILE_NOT_FOUND = 1,
  ACCESS_VIOLATION = 2,
  DISK_FULL = 3,
  ILLEGAL_OPERATION = 4,
  UNKNOWN_TRANSFER_ID = 5,
  FILE_ALREADY_EXISTS = 6,
  NO_SUCH_USER = 7,
  /** "Transfer should be terminated due to option negotiation" (RFC 2347). Also what OVMF sends after a tsize probe. */
  OPTION_NEGOTIATION_REFUSED = 8,
}

/** Transfer modes (RFC 1350 §1). "mail" is obsolete and not served. */
export type TftpMode = 'netascii' | 'octet' | 'mail';

/** Block size without the blksize option (RFC 1350 §2). */
export const TFTP_DEFAULT_BLKSIZE = 512;
/** blksize option range (RFC 2348). */
export const TFTP_MIN_BLKSIZE = 8;
export const TFTP_MAX_BLKSIZE = 65464;
/**
 * The largest blksize that fits a 1500-byte Ethernet MTU without IP fragmentation: 1500 - 20 (IPv4) - 8 (UDP) - 4
 * (TFTP header). OVMF asks for exactly this; iPXE asks for 1432.
 */
export const TFTP_ETHERNET_MAX_BLKSIZE = 1468;

/** timeout option range in seconds (RFC 2349). */
export const TFTP_MIN_TIMEOUT_S = 1;
export const TFTP_MAX_TIMEOUT_S = 255;

/** windowsize option range in blocks (RFC 7440 §3). Without the option the window is 1 (lock-step, RFC 1350). */
export const TFTP_MIN_WINDOWSIZE = 1;
export const TFTP_MAX_WINDOWSIZE = 65535;

/** Block numbers are 16 bits (RFC 1350 §5); past 65535 they roll over to 0 (the common "rollover=0" convention). */
export const TFTP_BLOCK_MODULO = 0x10000;

/** Header sizes (RFC 1350 §5). */
export const TFTP_OPCODE_LENGTH = 2;
export const TFTP_DATA_HEADER_LENGTH = 4;
export const TFTP_ACK_LENGTH = 4;

/** The largest datagram a conforming peer can send: a DATA packet with the largest blksize (RFC 2348). */
export const TFTP_MAX_PACKET_LENGTH = TFTP_DATA_HEADER_LENGTH + TFTP_MAX_BLKSIZE;

/** Option names, always compared lower-case (RFC 2347: option names are case-insensitive). */
export const TFTP_OPTION_BLKSIZE = 'blksize'; // RFC 2348
export const TFTP_OPTION_TIMEOUT = 'timeout'; // RFC 2349
export const TFTP_OPTION_TSIZE = 'tsize'; // RFC 2349
export const TFTP_OPTION_WINDOWSIZE = 'windowsize'; // RFC 7440
