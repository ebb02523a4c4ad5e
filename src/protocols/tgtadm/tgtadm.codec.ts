/**
 * tgtd's management protocol (tgt 1.0.x `usr/tgtadm.h`, `usr/mgmt.c`), the one `tgtadm` speaks: per request, one
 * connection to the unix socket `/var/run/tgtd/socket.<control port>`, a fixed 120-byte header (`struct tgtadm_req`,
 * host byte order) followed by a NUL-terminated parameter string, answered by an 8-byte `struct tgtadm_rsp`
 * (`err`, total `len`) and, for `show`, the same text tgtadm prints. Unchanged from 1.0.85 (Debian 12) to 1.0.97.
 *
 * {@link parseTgtadmArgv} turns the long-option argv our adapter builds (and logs) into a request exactly as tgtadm's
 * `main()` would, so the socket transport and the tgtadm binary are interchangeable. Pure: no I/O.
 */
import { MalformedPacketError } from '../malformed-packet.error';

export enum TgtadmMode {
  SYSTEM = 0,
  TARGET = 1,
  DEVICE = 2,
  PORTAL = 3,
  LLD = 4,
  SESSION = 5,
  CONNECTION = 6,
  ACCOUNT = 7,
}

export enum TgtadmOp {
  NEW = 0,
  DELETE = 1,
  SHOW = 2,
  BIND = 3,
  UNBIND = 4,
  UPDATE = 5,
  STATS = 6,
  START = 7,
  STOP = 8,
}

/** `enum tgtadm_errno` (`usr/tgtadm_error.h`). */
export enum TgtadmErrno {
  SUCCESS = 0,
  UNKNOWN_ERR,
  NOMEM,
  NO_DRIVER,
  NO_TARGET,
  NO_LUN,
  NO_SESSION,
  NO_CONNECTION,
  NO_BINDING,
  TARGET_EXIST,
  LUN_EXIST,
  BINDING_EXIST,
  ACL_EXIST,
  ACL_NOEXIST,
  USER_EXIST,
  NO_USER,
  TOO_MANY_USER,
  INVALID_REQUEST,
  OUTACCOUNT_EXIST,
  TARGET_ACTIVE,
  LUN_ACTIVE,
  DRIVER_ACTIVE,
  UNSUPPORTED_OPERATION,
  UNKNOWN_PARAM,
  PREVENT_REMOVAL,
}

/** tgtadm's `tgtadm_strerror()` table, word for word (the error mapper matches on these texts). */
const STRERROR: Readonly<Record<number, string>> = {
  [TgtadmErrno.SUCCESS]: 'success',
  [TgtadmErrno.UNKNOWN_ERR]: 'unknown error',
  [TgtadmErrno.NOMEM]: 'out of memory',
  [TgtadmErrno.NO_DRIVER]: "can't find the driver",
  [TgtadmErrno.NO_TARGET]: "can't find the target",
  [TgtadmErrno.NO_LUN]: "can't find the logical unit",
  [TgtadmErrno.NO_SESSION]: "can't find the session",
  [TgtadmErrno.NO_CONNECTION]: "can't find the connection",
  [TgtadmErrno.NO_BINDING]: "can't find the binding",
  [TgtadmErrno.TARGET_EXIST]: 'this target already exists',
  [TgtadmErrno.BINDING_EXIST]: 'this binding already exists',
  [TgtadmErrno.LUN_EXIST]: 'this logical unit number already exists',
  [TgtadmErrno.ACL_EXIST]: 'this access control rule already exists',
  [TgtadmErrno.ACL_NOEXIST]: 'this access control rule does not exist',
  [TgtadmErrno.USER_EXIST]: 'this account already exists',
  [TgtadmErrno.NO_USER]: "can't find the account",
  [TgtadmErrno.TOO_MANY_USER]: 'too many accounts',
  [TgtadmErrno.INVALID_REQUEST]: 'invalid request',
  [TgtadmErrno.OUTACCOUNT_EXIST]: 'this target already has an outgoing account',
  [TgtadmErrno.TARGET_ACTIVE]: 'this target is still active',
  [TgtadmErrno.LUN_ACTIVE]: 'this logical unit is still active',
  [TgtadmErrno.DRIVER_ACTIVE]: 'this driver is busy',
  [TgtadmErrno.UNSUPPORTED_OPERATION]: "this operation isn't supported",
  [TgtadmErrno.UNKNOWN_PARAM]: 'unknown parameter',
  [TgtadmErrno.PREVENT_REMOVAL]: 'this device has Prevent Removal set',
};

export function tgtadmStrerror(err: number): string {
  return STRERROR[err] ?? '(unknown tgtadm_errno)';
}

/** `struct tgtadm_req` without `len` (derived from the parameters when encoding). */
export interface TgtadmRequest {
  mode: TgtadmMode;
  op: TgtadmOp;
  lld: string;
  /** -1 when not given (tgtadm's default). */
  tid: number;
  sid: bigint;
  /** 2^64-1 when not given. */
  lun: bigint;
  cid: number;
  hostNo: number;
  deviceType: number;
  /** 0 incoming, 1 outgoing. */
  acDir: number;
  force: boolean;
  /** The parameter string (`name=value,path=…,targetOps k=v,`), without its NUL. */
  params: string;
}

export const TGTADM_REQ_SIZE = 120;
export const TGTADM_RSP_SIZE = 8;
const LLD_NAME_LEN = 64;
const NO_LUN = 0xffff_ffff_ffff_ffffn;
const U64_MAX = 0xffff_ffff_ffff_ffffn;

const MODES: Readonly<Record<string, TgtadmMode>> = {
  system: TgtadmMode.SYSTEM,
  sys: TgtadmMode.SYSTEM,
  target: TgtadmMode.TARGET,
  tgt: TgtadmMode.TARGET,
  logicalunit: TgtadmMode.DEVICE,
  lu: TgtadmMode.DEVICE,
  portal: TgtadmMode.PORTAL,
  pt: TgtadmMode.PORTAL,
  session: TgtadmMode.SESSION,
  sess: TgtadmMode.SESSION,
  connection: TgtadmMode.CONNECTION,
  conn: TgtadmMode.CONNECTION,
  account: TgtadmMode.ACCOUNT,
  lld: TgtadmMode.LLD,
};

const OPS: Readonly<Record<string, TgtadmOp>> = {
  new: TgtadmOp.NEW,
  delete: TgtadmOp.DELETE,
  show: TgtadmOp.SHOW,
  bind: TgtadmOp.BIND,
  unbind: TgtadmOp.UNBIND,
  update: TgtadmOp.UPDATE,
  stat: TgtadmOp.STATS,
  start: TgtadmOp.START,
  stop: TgtadmOp.STOP,
};

/** Long options taking a value, by the field tgtadm stores them in. */
const VALUE_OPTIONS = new Set([
  '--lld',
  '--op',
  '--mode',
  '--tid',
  '--sid',
  '--cid',
  '--lun',
  '--name',
  '--value',
  '--backing-store',
  '--bstype',
  '--bsopts',
  '--bsoflags',
  '--blocksize',
  '--targetname',
  '--initiator-address',
  '--initiator-name',
  '--user',
  '--password',
  '--params',
  '--control-port',
  '-C',
]);
const FLAG_OPTIONS = new Set(['--force', '--outgoing']);

/** What {@link parseTgtadmArgv} returns: the request and the control port (`-C`, default 0) it is for. */
export interface ParsedTgtadmArgv {
  controlPort: number;
  request: TgtadmRequest;
}

/** Thrown for an argv tgtadm itself would refuse before talking to tgtd. */
export class TgtadmUsageError extends Error {
  override readonly name = 'TgtadmUsageError';
}

function unsigned(option: string, raw: string, max: bigint): bigint {
  if (!/^\d{1,20}$/.test(raw) || BigInt(raw) > max) throw new TgtadmUsageError(`${option}: argument value '${raw}' invalid`);
  return BigInt(raw);
}

/**
 * Parses the long-option argv `tgtadm` accepts (the subset DLS uses, every option in `--name value` form) into a
 * request, with tgtadm's defaults (tid -1, lun 2^64-1, incoming account) and its parameter string in tgtadm's order.
 */
export function parseTgtadmArgv(argv: readonly string[]): ParsedTgtadmArgv {
  const v = new Map<string, string>();
  const flags = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (FLAG_OPTIONS.has(a)) {
      flags.add(a);
    } else if (VALUE_OPTIONS.has(a)) {
      if (i + 1 >= argv.length) throw new TgtadmUsageError(`option '${a}' requires an argument`);
      v.set(a === '-C' ? '--control-port' : a, argv[++i]);
    } else {
      throw new TgtadmUsageError(`unrecognized option '${a}'`);
    }
  }
  const modeName = v.get('--mode');
  const opName = v.get('--op');
  if (opName === undefined) throw new TgtadmUsageError('specify the operation type');
  if (modeName === undefined) throw new TgtadmUsageError('specify the mode');
  const mode = MODES[modeName];
  if (mode === undefined) throw new TgtadmUsageError(`unknown mode: ${modeName}`);
  const op = OPS[opName];
  if (op === undefined) throw new TgtadmUsageError(`unknown operation: ${opName}`);
  const lld = v.get('--lld') ?? '';
  if (Buffer.byteLength(lld) >= LLD_NAME_LEN) throw new TgtadmUsageError(`--lld: '${lld}' too long`);
  const num = (o: string, max: bigint) => (v.has(o) ? unsigned(o, v.get(o)!, max) : undefined);
  const tid = num('--tid', 0x7fff_ffffn);
  const cp = num('--control-port', 32767n);

  const parts: string[] = [];
  const add = (key: string, value: string | undefined) => {
    if (value !== undefined) parts.push(`${key}=${value}`);
  };
  if (v.has('--name')) parts.push(`${v.get('--name')}=${v.get('--value') ?? '(null)'}`);
  add('path', v.get('--backing-store'));
  add('bstype', v.get('--bstype'));
  add('bsopts', v.get('--bsopts'));
  add('bsoflags', v.get('--bsoflags'));
  add('blocksize', v.get('--blocksize'));
  add('targetname', v.get('--targetname'));
  add('initiator-address', v.get('--initiator-address'));
  add('initiator-name', v.get('--initiator-name'));
  add('user', v.get('--user'));
  add('password', v.get('--password'));
  let params = parts.join(',');
  // tgtadm appends `--params` as "targetOps <k=v,...>," (portalOps in portal mode), with a trailing comma.
  if (v.has('--params')) params += `${params ? ',' : ''}${mode === TgtadmMode.PORTAL ? 'portalOps' : 'targetOps'} ${v.get('--params')},`;
  return {
    controlPort: cp === undefined ? 0 : Number(cp),
    request: {
      mode,
      op,
      lld,
      tid: tid === undefined ? -1 : Number(tid),
      sid: num('--sid', U64_MAX) ?? 0n,
      lun: num('--lun', U64_MAX) ?? NO_LUN,
      cid: Number(num('--cid', 0xffff_ffffn) ?? 0n),
      hostNo: 0,
      deviceType: 0,
      acDir: flags.has('--outgoing') ? 1 : 0,
      force: flags.has('--force'),
      params,
    },
  };
}

/** Encodes `struct tgtadm_req` + the NUL-terminated parameters (none when empty), x86-64/aarch64 little endian. */
export function encodeTgtadmRequest(req: TgtadmRequest): Buffer {
  const params = req.params ? Buffer.from(`${req.params}\0`, 'utf8') : Buffer.alloc(0);
  const b = Buffer.alloc(TGTADM_REQ_SIZE + params.length);
  b.writeInt32LE(req.mode, 0);
  b.writeInt32LE(req.op, 4);
  b.write(req.lld, 8, LLD_NAME_LEN - 1, 'utf8');
  b.writeUInt32LE(b.length, 72);
  b.writeInt32LE(req.tid, 76);
  b.writeBigUInt64LE(req.sid, 80);
  b.writeBigUInt64LE(req.lun, 88);
  b.writeUInt32LE(req.cid, 96);
  b.writeUInt32LE(req.hostNo, 100);
  b.writeUInt32LE(req.deviceType, 104);
  b.writeUInt32LE(req.acDir, 108);
  b.writeUInt32LE(0, 112); // pack
  b.writeUInt32LE(req.force ? 1 : 0, 116);
  params.copy(b, TGTADM_REQ_SIZE);
  return b;
}

/** `struct tgtadm_rsp`: `len` counts the header too. */
export interface TgtadmResponseHeader {
  err: number;
  len: number;
}

/** Decodes the 8-byte response header; refuses a length that can't be one. */
export function decodeTgtadmResponseHeader(b: Buffer, maxBody = 64 * 1024 * 1024): TgtadmResponseHeader {
  if (b.length < TGTADM_RSP_SIZE) throw new MalformedPacketError('tgtadm', `response header: ${b.length} of ${TGTADM_RSP_SIZE} bytes`);
  const err = b.readUInt32LE(0);
  const len = b.readUInt32LE(4);
  if (len < TGTADM_RSP_SIZE || len - TGTADM_RSP_SIZE > maxBody) throw new MalformedPacketError('tgtadm', `response length ${len} is invalid`);
  return { err, len };
}

/** The response body as tgtadm prints it (`fputs`: up to the first NUL). */
export function decodeTgtadmResponseBody(b: Buffer): string {
  const nul = b.indexOf(0);
  return b.toString('utf8', 0, nul < 0 ? b.length : nul);
}
