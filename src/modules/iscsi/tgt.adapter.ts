/**
 * Thin, typed adapter over tgt's management interface (tgt 1.0.x) for one tgtd instance (one control port).
 *
 * Every call is a tgtadm argv `-C <controlPort> --lld iscsi ...` (never a shell) run with a timeout by a
 * {@link CommandRunner}: by default {@link tgtdSocketRunner}, which sends the request tgtadm would send straight to
 * tgtd's management socket (no process per call); with an explicit `binary`, the tgtadm binary itself (SIGKILLed on
 * the timeout). Every name and value is allow-listed before
 * anything runs (see `tgt.validation.ts`). Failures become {@link TgtError}s mapped from tgtadm's fixed message
 * table. Mutating calls run one at a time in FIFO order (a one-slot {@link Semaphore}) because tgtd's tid space and
 * account namespace are global; reads (`show`) run immediately.
 */
import { CommandResult, CommandRunner, spawnCommand } from '@common/exec/command-runner';
import { Semaphore } from '@common/concurrency/keyed-lock';
import { TgtConnection, TgtTarget, parseAccountShow, parseConnShow, parseTargetShow } from './tgt-show.parser';
import { TgtError, TgtErrorCode, mapTgtadmFailure } from './tgt.errors';
import { tgtdSocketRunner } from './tgtd-socket.runner';
import {
  assertBackingPath,
  assertChapSecret,
  assertChapUser,
  assertInitiatorAddress,
  assertInitiatorName,
  assertIqn,
  assertLun,
  assertSessionId,
  assertTargetParam,
  assertTid,
  renderLunParams,
} from './tgt.validation';

/** Minimal logger shape (Nest's `Logger` satisfies it). */
export interface TgtLogger {
  debug?(message: string): void;
  log?(message: string): void;
  warn?(message: string): void;
  error?(message: string): void;
}

/** Options for {@link TgtAdmAdapter}. */
export interface TgtAdmAdapterOptions {
  /** tgtd's control port 0..32767 (`tgtd -C N` ↔ `tgtadm -C N`, socket `/var/run/tgtd/socket.N`). */
  controlPort: number;
  /** Run this tgtadm binary instead of speaking to tgtd's socket directly (default: the socket). */
  binary?: string;
  /** Per-call timeout; the process is SIGKILLed on expiry (default 10 000 ms). */
  timeoutMs?: number;
  /** Injected for unit specs; defaults to {@link tgtdSocketRunner}, or {@link spawnCommand} when `binary` is set. */
  runner?: CommandRunner;
  logger?: TgtLogger;
}

/** tgtd/tgtadm accept `-C 0..32767` (`-C 32768` → "argument value out of range"). */
export const TGT_MAX_CONTROL_PORT = 32767;

/** Backing-store I/O engines we allow (tgt also has sg/ssc/…, which are not file-backed disks). */
export type TgtBackingStoreType = 'rdwr' | 'aio';

/** Redacts the value after `--password` so argv can be logged and put into errors. */
export function redactArgv(argv: readonly string[]): string[] {
  return argv.map((a, i) => (i > 0 && argv[i - 1] === '--password' ? '<redacted>' : a));
}

/** See the file comment. One instance per tgtd; share it between the supervisor and the exporter. */
export class TgtAdmAdapter {
  readonly controlPort: number;
  private readonly binary: string;
  private readonly timeoutMs: number;
  private readonly runner: CommandRunner;
  private readonly logger?: TgtLogger;
  /** One mutation at a time, FIFO; a failed one does not block the next. */
  private readonly queue = new Semaphore(1);

  constructor(options: TgtAdmAdapterOptions) {
    const cp = options.controlPort;
    if (!Number.isSafeInteger(cp) || cp < 0 || cp > TGT_MAX_CONTROL_PORT) {
      throw new TgtError(TgtErrorCode.INVALID_ARGUMENT, `invalid control port ${JSON.stringify(options.controlPort)}`);
    }
    this.controlPort = options.controlPort;
    this.binary = options.binary ?? 'tgtadm';
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.runner = options.runner ?? (options.binary !== undefined ? spawnCommand : tgtdSocketRunner());
    this.logger = options.logger;
  }

  // ---- targets -------------------------------------------------------------------------------------------------

  /** `--mode target --op new --tid T --targetname IQN`. */
  async newTarget(tid: number, iqn: string): Promise<void> {
    const argv = ['--mode', 'target', '--op', 'new', '--tid', String(assertTid(tid)), '--targetname', assertIqn(iqn)];
    return this.mutate(argv);
  }

  /** `--mode target --op delete [--force] --tid T`. One attempt; see `forceRemoveTarget` for the reliable sequence. */
  async deleteTarget(tid: number, options: { force?: boolean } = {}): Promise<void> {
    const force = options.force ? ['--force'] : [];
    return this.mutate(['--mode', 'target', '--op', 'delete', ...force, '--tid', String(assertTid(tid))]);
  }

  /** `offline` rejects new logins and answers new commands with BUSY; `ready` serves again. */
  async setTargetState(tid: number, state: 'offline' | 'ready'): Promise<void> {
    if (state !== 'offline' && state !== 'ready') {
      throw new TgtError(TgtErrorCode.INVALID_ARGUMENT, `invalid target state ${JSON.stringify(state)}`);
    }
    return this.updateTarget(assertTid(tid), 'state', state);
  }

  /** Sets `nop_interval` / `nop_count` (seconds / missed NOP-Ins before tgtd drops a dead initiator). */
  async setTargetParam(tid: number, name: string, value: string | number): Promise<void> {
    const [n, v] = assertTargetParam(name, value);
    return this.updateTarget(assertTid(tid), n, v);
  }

  // ---- logical units -------------------------------------------------------------------------------------------

  /** `--mode logicalunit --op new` (LUN ≥ 1; LUN 0 is the automatic controller LUN). `--params` is refused here. */
  async newLun(tid: number, lun: number, backingPath: string, options: { bstype?: TgtBackingStoreType; direct?: boolean } = {}): Promise<void> {
    const argv = [
      '--mode',
      'logicalunit',
      '--op',
      'new',
      '--tid',
      String(assertTid(tid)),
      '--lun',
      String(assertLun(lun)),
      '--backing-store',
      assertBackingPath(backingPath),
    ];
    if (options.bstype !== undefined) {
      if (options.bstype !== 'rdwr' && options.bstype !== 'aio') {
        throw new TgtError(TgtErrorCode.INVALID_ARGUMENT, `invalid bstype ${JSON.stringify(options.bstype)}`);
      }
      argv.push('--bstype', options.bstype);
    }
    // O_DIRECT: tgtd reads and writes the file without the page cache.
    if (options.direct) argv.push('--bsoflags', 'direct');
    return this.mutate(argv);
  }

  /** `--mode logicalunit --op delete`. */
  async deleteLun(tid: number, lun: number): Promise<void> {
    return this.mutate(['--mode', 'logicalunit', '--op', 'delete', '--tid', String(assertTid(tid)), '--lun', String(assertLun(lun))]);
  }

  /** `--mode logicalunit --op update --params k=v,...` (allow-listed: lbppbe, scsi_sn, scsi_id, vendor_id, …). */
  async updateLun(tid: number, lun: number, params: Record<string, string>): Promise<void> {
    return this.mutate([
      '--mode',
      'logicalunit',
      '--op',
      'update',
      '--tid',
      String(assertTid(tid)),
      '--lun',
      String(assertLun(lun)),
      '--params',
      renderLunParams(params),
    ]);
  }

  // ---- ACLs ----------------------------------------------------------------------------------------------------

  /** Allows logins from this initiator name. ACL entries are OR-ed; an empty ACL rejects everyone. */
  async bindInitiatorName(tid: number, initiatorName: string): Promise<void> {
    return this.acl('bind', tid, '--initiator-name', assertInitiatorName(initiatorName));
  }

  async unbindInitiatorName(tid: number, initiatorName: string): Promise<void> {
    return this.acl('unbind', tid, '--initiator-name', assertInitiatorName(initiatorName));
  }

  /** Allows logins from an address, `address/prefix`, or `ALL`. */
  async bindInitiatorAddress(tid: number, address: string): Promise<void> {
    return this.acl('bind', tid, '--initiator-address', assertInitiatorAddress(address));
  }

  async unbindInitiatorAddress(tid: number, address: string): Promise<void> {
    return this.acl('unbind', tid, '--initiator-address', assertInitiatorAddress(address));
  }

  // ---- accounts (global namespace) -----------------------------------------------------------------------------

  /** Creates a CHAP account. The secret is redacted from logs and errors. */
  async newAccount(user: string, password: string): Promise<void> {
    const secret = assertChapSecret(password);
    return this.mutate(['--mode', 'account', '--op', 'new', '--user', assertChapUser(user), '--password', secret]);
  }

  /** Deletes an account; tgtd allows this while it is still bound (logins then fail). */
  async deleteAccount(user: string): Promise<void> {
    return this.mutate(['--mode', 'account', '--op', 'delete', '--user', assertChapUser(user)]);
  }

  /** Binds an account to a target: incoming CHAP by default, mutual (target authenticates) with `outgoing`. */
  async bindAccount(tid: number, user: string, options: { outgoing?: boolean } = {}): Promise<void> {
    const out = options.outgoing ? ['--outgoing'] : [];
    return this.account('bind', tid, user, out);
  }

  async unbindAccount(tid: number, user: string, options: { outgoing?: boolean } = {}): Promise<void> {
    const out = options.outgoing ? ['--outgoing'] : [];
    return this.account('unbind', tid, user, out);
  }

  /** `--mode account --op show`: every account name (tgtd never reveals secrets). */
  async listAccounts(): Promise<string[]> {
    return parseAccountShow(await this.run(['--mode', 'account', '--op', 'show']));
  }

  // ---- views and sessions --------------------------------------------------------------------------------------

  /** `--mode target --op show`, parsed: the complete view (state, sessions, LUNs, accounts, ACLs). */
  async showTargets(): Promise<TgtTarget[]> {
    return parseTargetShow(await this.run(['--mode', 'target', '--op', 'show']));
  }

  /** `--mode conn --op show --tid T`, parsed; empty when nobody is connected. */
  async showConnections(tid: number): Promise<TgtConnection[]> {
    return parseConnShow(await this.run(['--mode', 'conn', '--op', 'show', '--tid', String(assertTid(tid))]));
  }

  /** Kicks one connection (`conn delete`); the target stays, the initiator may reconnect. */
  async deleteConnection(tid: number, sid: number, cid: number): Promise<void> {
    return this.mutate([
      '--mode',
      'conn',
      '--op',
      'delete',
      '--tid',
      String(assertTid(tid)),
      '--sid',
      String(assertSessionId(sid, 'sid')),
      '--cid',
      String(assertSessionId(cid, 'cid')),
    ]);
  }

  /** `--mode sys --op show` (raw text). Succeeds as soon as tgtd's control socket answers. */
  async showSystem(): Promise<string> {
    return this.run(['--mode', 'sys', '--op', 'show']);
  }

  /** `--mode sys --op delete`: tgtd exits; only works when no target exists (else INVALID_REQUEST). */
  async deleteSystem(): Promise<void> {
    return this.mutate(['--mode', 'sys', '--op', 'delete']);
  }

  // ---- plumbing ------------------------------------------------------------------------------------------------

  private updateTarget(tid: number, name: string, value: string): Promise<void> {
    return this.mutate(['--mode', 'target', '--op', 'update', '--tid', String(tid), '--name', name, '--value', value]);
  }

  private acl(op: 'bind' | 'unbind', tid: number, flag: string, value: string): Promise<void> {
    return this.mutate(['--mode', 'target', '--op', op, '--tid', String(assertTid(tid)), flag, value]);
  }

  private account(op: 'bind' | 'unbind', tid: number, user: string, extra: string[]): Promise<void> {
    return this.mutate(['--mode', 'account', '--op', op, '--tid', String(assertTid(tid)), '--user', assertChapUser(user), ...extra]);
  }

  private async mutate(args: string[]): Promise<void> {
    await this.queue.run(() => this.run(args));
  }

  /** Runs tgtadm once; resolves with stdout or rejects with a mapped TgtError. */
  private async run(args: string[]): Promise<string> {
    const argv = ['-C', String(this.controlPort), '--lld', 'iscsi', ...args];
    const shown = redactArgv(argv);
    const started = Date.now();
    let res: CommandResult;
    let spawnError: Error | undefined;
    try {
      res = await this.runner(this.binary, argv, { timeoutMs: this.timeoutMs });
    } catch (e) {
      // The runner rejects only when tgtadm could not be started at all (ENOENT, EACCES).
      spawnError = e instanceof Error ? e : new Error(String(e));
      res = { code: null, signal: null, stdout: '', stderr: '', timedOut: false };
    }
    const ms = Date.now() - started;
    if (res.code === 0 && !res.timedOut && !spawnError) {
      this.logger?.debug?.(`tgtadm ${shown.join(' ')} ok (${ms} ms)`);
      return res.stdout;
    }
    const err = mapTgtadmFailure({
      argv: shown,
      exitCode: res.code,
      signal: res.signal,
      stderr: res.stderr,
      timedOut: res.timedOut,
      spawnError,
    });
    this.logger?.debug?.(`${err.message} (${ms} ms)`);
    throw err;
  }
}
