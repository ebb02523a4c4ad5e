/**
 * Typed errors for everything that talks to tgt (tgtadm/tgtd).
 *
 * tgtadm reports every daemon-side failure with exit code 22 (EINVAL) and one fixed text from tgt's
 * `tgtadm_strerror()` table, so the text is the only way to tell failures apart. Exit code 107 (ENOTCONN)
 * means the daemon is not reachable on that control port.
 */

/** One SCREAMING_SNAKE code per failure the callers need to tell apart. */
export enum TgtErrorCode {
  /** `this target already exists`: duplicate tid **or** duplicate target name. */
  TARGET_EXISTS = 'TARGET_EXISTS',
  /** `can't find the target`. */
  TARGET_NOT_FOUND = 'TARGET_NOT_FOUND',
  /** `this logical unit number already exists`. */
  LUN_EXISTS = 'LUN_EXISTS',
  /** `can't find the logical unit`. */
  LUN_NOT_FOUND = 'LUN_NOT_FOUND',
  /** `invalid request`: missing backing file, LUN 0 delete, unknown `--params` key, `sys delete` with targets, … */
  INVALID_REQUEST = 'INVALID_REQUEST',
  /** `this access control rule already exists`. */
  ACL_EXISTS = 'ACL_EXISTS',
  /** `this access control rule does not exist`. */
  ACL_NOT_FOUND = 'ACL_NOT_FOUND',
  /** `this account already exists`: duplicate account **or** the same account bound twice. */
  ACCOUNT_EXISTS = 'ACCOUNT_EXISTS',
  /** `can't find the account`: unknown user on bind/unbind/delete (also: unbind of a user not bound there). */
  ACCOUNT_NOT_FOUND = 'ACCOUNT_NOT_FOUND',
  /** `this target is still active`: plain delete while a session exists. */
  TARGET_ACTIVE = 'TARGET_ACTIVE',
  /** `this logical unit is still active`: commands still queued (transient during a forced delete). */
  LUN_ACTIVE = 'LUN_ACTIVE',
  /** `can't find the session`: `conn delete` with a wrong sid/cid. */
  SESSION_NOT_FOUND = 'SESSION_NOT_FOUND',
  /** Exit code 107 / `Transport endpoint is not connected`: no tgtd on that control port. */
  DAEMON_UNREACHABLE = 'DAEMON_UNREACHABLE',
  /** tgtadm did not finish within the adapter's timeout and was killed. */
  TIMEOUT = 'TIMEOUT',
  /** Anything else (signal deaths, missing binary, unknown text). */
  UNKNOWN = 'UNKNOWN',
  /** A name/value failed the allow-list check; nothing was executed. */
  INVALID_ARGUMENT = 'INVALID_ARGUMENT',
  /** The backing file is already exported by another target (tgtd does not lock files). */
  BACKING_FILE_IN_USE = 'BACKING_FILE_IN_USE',
  /** tgtadm printed something the show parsers do not understand. */
  MALFORMED_OUTPUT = 'MALFORMED_OUTPUT',
  /** tgtd could not be started or did not become ready (control socket or portal). */
  DAEMON_START_FAILED = 'DAEMON_START_FAILED',
}

/** Details of one failed tgtadm invocation (argv is already redacted). */
export interface TgtErrorDetails {
  argv?: readonly string[];
  exitCode?: number | null;
  signal?: string | null;
  stderr?: string;
  cause?: unknown;
}

/** The only error type thrown by the iSCSI layer. `argv` never contains a CHAP secret. */
export class TgtError extends Error {
  readonly argv: readonly string[];
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly stderr: string;

  constructor(
    readonly code: TgtErrorCode,
    message: string,
    details: TgtErrorDetails = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'TgtError';
    this.argv = details.argv ?? [];
    this.exitCode = details.exitCode ?? null;
    this.signal = details.signal ?? null;
    this.stderr = details.stderr ?? '';
  }
}

/** True when `err` is a TgtError with one of the given codes. */
export function isTgtError(err: unknown, ...codes: TgtErrorCode[]): err is TgtError {
  return err instanceof TgtError && (codes.length === 0 || codes.includes(err.code));
}

/** tgtadm's fixed message table (tgt 1.0.x `usr/tgtadm.c`), matched on stderr. Order matters: longest first. */
const STDERR_TABLE: ReadonlyArray<readonly [RegExp, TgtErrorCode]> = [
  [/this target already exists/, TgtErrorCode.TARGET_EXISTS],
  [/can't find the target/, TgtErrorCode.TARGET_NOT_FOUND],
  [/this logical unit number already exists/, TgtErrorCode.LUN_EXISTS],
  [/can't find the logical unit/, TgtErrorCode.LUN_NOT_FOUND],
  [/this access control rule already exists/, TgtErrorCode.ACL_EXISTS],
  [/this access control rule does not exist/, TgtErrorCode.ACL_NOT_FOUND],
  [/this account already exists/, TgtErrorCode.ACCOUNT_EXISTS],
  [/can't find the account/, TgtErrorCode.ACCOUNT_NOT_FOUND],
  [/this target is still active/, TgtErrorCode.TARGET_ACTIVE],
  [/this logical unit is still active/, TgtErrorCode.LUN_ACTIVE],
  [/can't find the session/, TgtErrorCode.SESSION_NOT_FOUND],
  [/failed to send request hdr|Transport endpoint is not connected|Connection refused/, TgtErrorCode.DAEMON_UNREACHABLE],
  [/invalid request|argument value '.*' invalid/, TgtErrorCode.INVALID_REQUEST],
];

/** ENOTCONN as returned by tgtadm when the control socket cannot be reached. */
export const TGTADM_EXIT_UNREACHABLE = 107;
/** EINVAL: every error reported by tgtd itself. */
export const TGTADM_EXIT_DAEMON_ERROR = 22;

/** Outcome of one tgtadm run as seen by the mapper. */
export interface TgtadmFailure {
  argv: readonly string[];
  exitCode: number | null;
  signal: string | null;
  stderr: string;
  timedOut?: boolean;
  spawnError?: Error;
}

/** Maps a failed tgtadm run (exit code + stderr text) to a typed {@link TgtError}. Pure. */
export function mapTgtadmFailure(f: TgtadmFailure): TgtError {
  const stderr = f.stderr.trim().slice(0, 2000);
  const details: TgtErrorDetails = {
    argv: f.argv,
    exitCode: f.exitCode,
    signal: f.signal,
    stderr,
    cause: f.spawnError,
  };
  const what = `tgtadm ${f.argv.join(' ')}`;
  if (f.timedOut) return new TgtError(TgtErrorCode.TIMEOUT, `${what}: timed out`, details);
  if (f.spawnError) return new TgtError(TgtErrorCode.UNKNOWN, `${what}: ${f.spawnError.message}`, details);
  if (f.exitCode === TGTADM_EXIT_UNREACHABLE) {
    return new TgtError(TgtErrorCode.DAEMON_UNREACHABLE, `${what}: tgtd not reachable (${stderr})`, details);
  }
  for (const [re, code] of STDERR_TABLE) {
    if (re.test(stderr)) return new TgtError(code, `${what}: ${stderr.replace(/^tgtadm:\s*/, '')}`, details);
  }
  const how = f.signal ? `killed by ${f.signal}` : `exit ${f.exitCode}`;
  return new TgtError(TgtErrorCode.UNKNOWN, `${what}: ${how}${stderr ? `: ${stderr}` : ''}`, details);
}
