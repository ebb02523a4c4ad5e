/**
 * Allow-list validation for every name and value that reaches a tgtadm/tgtd argv.
 *
 * tgtadm passes several options to tgtd inside one `key=value,key=value` string (LUN params, backing store), so a
 * comma or `=` smuggled into a value would inject options; a leading `-` could be read as an option. Everything is
 * therefore matched against a positive pattern and rejected before anything is executed.
 */
import { isIP } from 'node:net';
import { posix } from 'node:path';
import { TgtError, TgtErrorCode } from './tgt.errors';

/** RFC 3720 §3.2.6.1: an iSCSI name is at most 223 bytes. */
export const ISCSI_NAME_MAX_BYTES = 223;

/**
 * RFC 3720 §3.2.6.3.1 `iqn.` format, in the lower-case form that stringprep (RFC 3722) yields for ASCII:
 * `iqn.` + `yyyy-mm` + `.` + reversed domain name + optional `:` + unique string.
 * The unique part is limited to `[a-z0-9.:_-]` (no spaces, no upper case, no shell/option metacharacters).
 */
const LABEL = '[a-z0-9](?:[a-z0-9-]*[a-z0-9])?';
export const IQN_RE = new RegExp(`^iqn\\.\\d{4}-(?:0[1-9]|1[0-2])\\.${LABEL}(?:\\.${LABEL})*(?::[a-z0-9._:-]+)?$`);

/** RFC 3720 §3.2.6.3.2 `eui.` format (16 upper-case hex digits); accepted for initiator names only. */
export const EUI_RE = /^eui\.[0-9A-F]{16}$/;

/** CHAP user names: `[A-Za-z0-9._-]{1,64}`, not starting with `-` (would look like an option). */
export const CHAP_USER_RE = /^(?!-)[A-Za-z0-9._-]{1,64}$/;

/** CHAP secrets: 12–16 alphanumerics. The Microsoft iSCSI initiator rejects secrets outside 12–16 bytes. */
export const CHAP_SECRET_RE = /^[A-Za-z0-9]{12,16}$/;

/** SCSI serial / device id strings we set via `--params` (no `,` or `=`, which would inject params). */
export const SCSI_STRING_RE = /^[A-Za-z0-9._-]{1,32}$/;

/** Backing-store path characters: absolute, no spaces, commas, `=`, control characters or newlines. */
const PATH_RE = /^\/[A-Za-z0-9._+@~/-]{0,4094}$/;

/** Iscsi target parameters that {@link TgtAdmAdapter.setTargetParam} may set, with their value patterns. */
export const TARGET_PARAMS: Readonly<Record<string, RegExp>> = {
  nop_interval: /^\d{1,4}$/,
  nop_count: /^\d{1,4}$/,
};

/** LUN parameters that `logicalunit --op update --params` may set (tgt `usr/spc.c` / `usr/target.c`). */
export const LUN_PARAMS: Readonly<Record<string, RegExp>> = {
  lbppbe: /^(?:[0-9]|1[0-5])$/,
  scsi_sn: SCSI_STRING_RE,
  scsi_id: SCSI_STRING_RE,
  vendor_id: /^[A-Za-z0-9._-]{1,8}$/,
  product_id: /^[A-Za-z0-9._-]{1,16}$/,
  product_rev: /^[A-Za-z0-9._-]{1,4}$/,
  removable: /^[01]$/,
  readonly: /^[01]$/,
  online: /^[01]$/,
  thin_provisioning: /^[01]$/,
};

function reject(what: string, value: unknown, why: string): never {
  // Never echo something that might be a secret.
  const shown = what === 'CHAP secret' ? '<redacted>' : JSON.stringify(value);
  throw new TgtError(TgtErrorCode.INVALID_ARGUMENT, `invalid ${what} ${shown}: ${why}`);
}

/** A target IQN (RFC 3720 §3.2.6.3.1, lower case, ≤ 223 bytes). */
export function assertIqn(value: unknown, what = 'IQN'): string {
  if (typeof value !== 'string' || !IQN_RE.test(value)) return reject(what, value, 'expected a lower-case iqn. name');
  if (Buffer.byteLength(value) > ISCSI_NAME_MAX_BYTES) return reject(what, value, 'longer than 223 bytes');
  return value;
}

/** An initiator name: an `iqn.` name as {@link assertIqn} or an `eui.` name. */
export function assertInitiatorName(value: unknown): string {
  if (typeof value === 'string' && EUI_RE.test(value)) return value;
  return assertIqn(value, 'initiator name');
}

/** An IQN prefix used to recognise managed targets, e.g. `iqn.2025-01.lab.dls:`. */
export function assertIqnPrefix(value: unknown): string {
  if (typeof value !== 'string' || !/^iqn\.\d{4}-(?:0[1-9]|1[0-2])\.[a-z0-9.:_-]+$/.test(value)) {
    return reject('managed IQN prefix', value, 'expected "iqn.yyyy-mm.<reversed domain>[:...]"');
  }
  return value;
}

export function assertChapUser(value: unknown): string {
  if (typeof value !== 'string' || !CHAP_USER_RE.test(value)) {
    return reject('CHAP user', value, 'expected [A-Za-z0-9._-]{1,64}');
  }
  return value;
}

export function assertChapSecret(value: unknown): string {
  if (typeof value !== 'string' || !CHAP_SECRET_RE.test(value)) {
    return reject('CHAP secret', value, 'expected 12-16 characters [A-Za-z0-9]');
  }
  return value;
}

/** A normalised absolute path to a backing file (no `.`/`..` segments, no trailing slash). */
export function assertBackingPath(value: unknown): string {
  if (typeof value !== 'string' || !PATH_RE.test(value)) {
    return reject('backing path', value, 'expected an absolute path of [A-Za-z0-9._+@~/-]');
  }
  if (posix.normalize(value) !== value || value.endsWith('/') || value.split('/').includes('..')) {
    return reject('backing path', value, 'expected a normalised path');
  }
  return value;
}

/** A tgt target id: tgt requires tid ≥ 1. */
export function assertTid(value: unknown): number {
  if (!Number.isSafeInteger(value) || (value as number) < 1 || (value as number) > 0x7fffffff) {
    return reject('tid', value, 'expected an integer >= 1');
  }
  return value as number;
}

/** A LUN we create: ≥ 1 (LUN 0 is tgt's controller pseudo-LUN), ≤ 255. */
export function assertLun(value: unknown): number {
  if (!Number.isSafeInteger(value) || (value as number) < 1 || (value as number) > 255) {
    return reject('LUN', value, 'expected an integer 1..255 (LUN 0 is the controller)');
  }
  return value as number;
}

/** A session or connection id from `conn show`. */
export function assertSessionId(value: unknown, what: 'sid' | 'cid'): number {
  if (!Number.isSafeInteger(value) || (value as number) < 0 || (value as number) > 0xffffffff) {
    return reject(what, value, 'expected a non-negative integer');
  }
  return value as number;
}

/** `ALL`, an IPv4/IPv6 address, or an address with a `/prefix`. */
export function assertInitiatorAddress(value: unknown): string {
  if (value === 'ALL') return value;
  if (typeof value === 'string') {
    const [addr, prefix, ...rest] = value.split('/');
    const family = isIP(addr);
    const maxPrefix = family === 4 ? 32 : 128;
    const prefixOk = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= maxPrefix);
    if (family !== 0 && rest.length === 0 && prefixOk) {
      return value;
    }
  }
  return reject('initiator address', value, 'expected ALL, an IP address or address/prefix');
}

export function assertScsiString(value: unknown, what: string): string {
  if (typeof value !== 'string' || !SCSI_STRING_RE.test(value)) {
    return reject(what, value, 'expected [A-Za-z0-9._-]{1,32}');
  }
  return value;
}

/** Validates a set of LUN params against {@link LUN_PARAMS} and renders `k=v,k=v` (keys in the given order). */
export function renderLunParams(params: Record<string, string>): string {
  const keys = Object.keys(params);
  if (keys.length === 0) return reject('LUN params', params, 'at least one parameter is required');
  return keys
    .map((key) => {
      const re = LUN_PARAMS[key];
      if (!Object.prototype.hasOwnProperty.call(LUN_PARAMS, key) || !re) {
        return reject('LUN param name', key, 'not allowed');
      }
      const value = params[key];
      if (typeof value !== 'string' || !re.test(value)) {
        return reject(`LUN param ${key}`, value, `does not match ${re}`);
      }
      return `${key}=${value}`;
    })
    .join(',');
}

/** Validates a target parameter name/value against {@link TARGET_PARAMS}. */
export function assertTargetParam(name: unknown, value: unknown): [string, string] {
  if (typeof name !== 'string' || !Object.prototype.hasOwnProperty.call(TARGET_PARAMS, name)) {
    return reject('target param name', name, `expected one of ${Object.keys(TARGET_PARAMS).join(', ')}`);
  }
  const v = typeof value === 'number' ? String(value) : value;
  if (typeof v !== 'string' || !TARGET_PARAMS[name].test(v)) {
    return reject(`target param ${name}`, value, 'expected 0..9999');
  }
  return [name, v];
}
