/**
 * Runs one tgtd (tgt 1.0.x) as a supervised child, or attaches to one that is already running.
 *
 * Facts this is built around (measured on Debian's tgt 1.0.85):
 * - `tgtd -f -C <cp> --iscsi portal=<addr>:<port>` runs in the foreground and logs to stderr; the control socket is
 *   `/var/run/tgtd/socket.<cp>`. A second tgtd with the same `-C` exits at once (`another tgtd is using ... lock`).
 * - If the portal port is taken, tgtd logs `failed to create/bind to portal` and **keeps running without a portal**,
 *   so readiness means: the control socket answers *and* tgtd itself owns a listening socket on the portal.
 * - tgtd ignores SIGTERM. A graceful stop is: delete every target (offline → delete --force, retried), then
 *   `tgtadm --mode sys --op delete` (only works with no targets); SIGKILL by PID is the last resort. The deletes are
 *   what make tgtd close its backing files one by one while it still runs: a SIGKILLed tgtd closes them all from its
 *   exit path, and on zfs-fuse one of those FLUSHes went unanswered after a boot storm (tgtd a zombie for good, each
 *   dataset then ~25 s to unmount). So the bound of a stop grows with the number of targets.
 * - tgtd keeps no state: after any (re)start every target/LUN/ACL/account is gone, so the owner must listen for
 *   `'exit'` and re-create state (see `TgtExporter.reconcile`).
 * - tgtd outlives a `kill -9` of its parent. With `pidFile`, the spawned pid is recorded there; the next start
 *   replaces a tgtd the file names if /proc proves it is a tgtd on our control port, and drops a stale file without
 *   signalling anything (see `tgtd-pidfile.ts`).
 */
import { ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { readFile, readdir, readlink, rm } from 'node:fs/promises';
import { basename } from 'node:path';
import { connect, isIP } from 'node:net';
import { TGTD_SOCKET_DIR } from './tgtd-socket.runner';
import { TgtAdmAdapter, TgtLogger } from './tgt.adapter';
import { delay, removeAllTargets } from './tgt-teardown';
import { TgtError, TgtErrorCode, isTgtError } from './tgt.errors';
import {
  decideTgtdPidFile,
  endOurTgtd,
  isOurTgtd,
  parsePidFile,
  readPidFileText,
  readProcFacts,
  removePidFileIf,
  writePidFile,
} from './tgtd-pidfile';

/** Options for {@link TgtdSupervisor}. */
export interface TgtdSupervisorOptions {
  /** `-C` control port; pick a fixed, unique one per instance (another tgtd on this host may own 0). */
  controlPort: number;
  /** The iSCSI portal tgtd listens on (RFC 7143 §4.1: TCP, registered port 3260). */
  portal: { address: string; port: number };
  /** Default NOP-In interval (s) for all targets, so dead initiators are dropped. */
  nopInterval?: number;
  /** Missed NOP-Outs before tgtd drops the connection. */
  nopCount?: number;
  /** tgtd binary (default `tgtd`). */
  binary?: string;
  /** tgtadm binary, used when no adapter is passed (default `tgtadm`). */
  tgtadmBinary?: string;
  /** Share the exporter's adapter (and its queue); created from controlPort/tgtadmBinary when omitted. */
  adapter?: TgtAdmAdapter;
  logger?: TgtLogger;
  /** Use an already-running tgtd on `controlPort`: no spawn, and `stop()` leaves it running. */
  attach?: boolean;
  /** Bound for start-up readiness (default 5000 ms). */
  startTimeoutMs?: number;
  /**
   * Bound for the graceful phase of `stop()` before SIGKILL: this (default 5000 ms) plus {@link stopPerTargetMs} for
   * each target tgtd has, since every target is removed first (see `removeAllTargets`).
   */
  stopTimeoutMs?: number;
  /** What each target adds to the graceful stop's bound (default 100 ms; ~18 ms each measured after a zfs-fuse storm). */
  stopPerTargetMs?: number;
  /**
   * Where the spawned tgtd's pid is recorded (e.g. `<DLS_DATA_DIR>/tgtd.pid`), so that a start after a crash of this
   * process replaces the tgtd it left behind. Without it, a leftover tgtd makes start fail (`another tgtd is using`).
   */
  pidFile?: string;
  /** How long a leftover tgtd gets after SIGTERM before SIGKILL (default 1000 ms; tgtd ignores SIGTERM with targets). */
  takeoverTermWaitMs?: number;
  /** Network namespaces are not supported here (run the whole service inside one instead). */
  netns?: never;
}

/** Payload of the `'exit'` event. `expected` is false for a crash or an external kill. */
export interface TgtdExitInfo {
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  expected: boolean;
}

const NOISE = /Failed to initialize RDMA|oom-killer's pardon|adjust nr_open|use timer_fd|use signalfd/;
const PORTAL_FAILED = /failed to create\/bind to portal|unable to bind server socket/;

/** Starts/stops one tgtd and reports its exits. Emits `'exit'` with {@link TgtdExitInfo}. */
export class TgtdSupervisor extends EventEmitter {
  /** The adapter bound to this daemon's control port. */
  readonly adapter: TgtAdmAdapter;
  private readonly opts: TgtdSupervisorOptions;
  private child?: ChildProcess;
  private exitPromise?: Promise<void>;
  private attached = false;
  private ready = false;
  private stopping?: Promise<void>;
  private starting?: Promise<void>;
  private expectExit = false;
  private readonly tail: string[] = [];

  constructor(options: TgtdSupervisorOptions) {
    super();
    const { address, port } = options.portal;
    if (isIP(address) === 0) {
      throw new TgtError(TgtErrorCode.INVALID_ARGUMENT, `invalid portal address ${JSON.stringify(address)}`);
    }
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new TgtError(TgtErrorCode.INVALID_ARGUMENT, `invalid portal port ${JSON.stringify(port)}`);
    }
    for (const [k, v] of [
      ['nopInterval', options.nopInterval],
      ['nopCount', options.nopCount],
    ] as const) {
      if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > 9999)) {
        throw new TgtError(TgtErrorCode.INVALID_ARGUMENT, `invalid ${k} ${JSON.stringify(v)}`);
      }
    }
    this.opts = options;
    this.adapter = options.adapter ?? new TgtAdmAdapter({ controlPort: options.controlPort, binary: options.tgtadmBinary, logger: options.logger });
    if (this.adapter.controlPort !== options.controlPort) {
      throw new TgtError(TgtErrorCode.INVALID_ARGUMENT, 'adapter.controlPort differs from controlPort');
    }
  }

  /** PID of the spawned tgtd (undefined when attached or not running). */
  get pid(): number | undefined {
    return this.isRunning() && !this.attached ? this.child?.pid : undefined;
  }

  /** True while the spawned tgtd lives and was found ready (or while attached). */
  isRunning(): boolean {
    if (this.attached) return this.ready;
    return this.ready && !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Registers an exit callback; returns a function that unregisters it. */
  onExit(listener: (info: TgtdExitInfo) => void): () => void {
    this.on('exit', listener);
    return () => this.off('exit', listener);
  }

  /** `portal=<addr>:<port>[,nop_interval=N,nop_count=N]` as tgtd's `--iscsi` option wants it. */
  portalSpec(): string {
    const { address, port } = this.opts.portal;
    const host = isIP(address) === 6 ? `[${address}]` : address;
    let spec = `portal=${host}:${port}`;
    if (this.opts.nopInterval !== undefined) spec += `,nop_interval=${this.opts.nopInterval}`;
    if (this.opts.nopCount !== undefined) spec += `,nop_count=${this.opts.nopCount}`;
    return spec;
  }

  /**
   * Spawns tgtd (or attaches) and resolves once the control socket answers and the portal accepts TCP connections.
   * Rejects with DAEMON_START_FAILED (and leaves no process behind) when that does not happen within the bound.
   * Calling it while running is a no-op.
   */
  start(): Promise<void> {
    if (this.isRunning()) return Promise.resolve();
    if (this.stopping) return this.stopping.then(() => this.start());
    this.starting ??= (this.opts.attach ? this.attach() : this.spawnAndWait()).finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  /**
   * Deletes every target (offline → delete --force, retried), then `sys delete`, then SIGKILL after a bounded wait.
   * Idempotent; concurrent calls share one stop. In attach mode it only detaches and leaves tgtd running.
   */
  stop(): Promise<void> {
    if (this.opts.attach) {
      this.attached = false;
      this.ready = false;
      return Promise.resolve();
    }
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) {
      this.ready = false;
      return Promise.resolve();
    }
    this.stopping ??= this.gracefulStop().finally(() => {
      this.stopping = undefined;
    });
    return this.stopping;
  }

  // ---- start ---------------------------------------------------------------------------------------------------

  private async attach(): Promise<void> {
    const deadline = Date.now() + (this.opts.startTimeoutMs ?? 5000);
    let lastError: unknown;
    while (Date.now() < deadline) {
      try {
        await this.adapter.showSystem();
        await this.tcpProbe(Math.max(100, deadline - Date.now()));
        this.attached = true;
        this.ready = true;
        return;
      } catch (err) {
        lastError = err;
      }
      await delay(50);
    }
    throw new TgtError(
      TgtErrorCode.DAEMON_START_FAILED,
      `no usable tgtd on control port ${this.opts.controlPort} / portal ${this.portalText()}: ${errText(lastError)}`,
      { cause: lastError },
    );
  }

  /**
   * Before a spawn: acts on the pid file a previous run left (replace our leftover tgtd, or drop a stale file) and
   * logs one line saying which. Never signals a process that /proc does not show as a tgtd on our control port.
   */
  private async handlePidFile(): Promise<void> {
    const path = this.opts.pidFile;
    if (!path) return;
    const text = await readPidFileText(path);
    const pid = text === undefined ? undefined : parsePidFile(text);
    const facts = pid === undefined ? undefined : await readProcFacts(pid);
    const binaryNames = this.binaryNames();
    const cp = this.opts.controlPort;
    const decision = decideTgtdPidFile({ text, facts, controlPort: cp, selfPid: process.pid, binaryNames });
    if (decision.action === 'none') return;
    if (decision.action === 'remove-stale') {
      await rm(path, { force: true }).catch(() => undefined);
      this.opts.logger?.log?.(`removed stale tgtd pid file ${path}: ${decision.reason}`);
      return;
    }
    let how: string | undefined;
    try {
      how = await endOurTgtd(decision.pid, (f) => isOurTgtd(f.cmdline, cp, binaryNames), {
        termWaitMs: this.opts.takeoverTermWaitMs ?? 1000,
        killWaitMs: 5000,
      });
    } catch (err) {
      throw new TgtError(TgtErrorCode.DAEMON_START_FAILED, `could not end the leftover tgtd (pid ${decision.pid}): ${errText(err)}`, {
        cause: err,
      });
    }
    await rm(path, { force: true }).catch(() => undefined);
    const base = `${TGTD_SOCKET_DIR}/socket.${cp}`;
    await Promise.all([rm(base, { force: true }), rm(`${base}.lock`, { force: true })]).catch(() => undefined);
    this.opts.logger?.warn?.(
      `replaced the tgtd (pid ${decision.pid}) a previous run left on control port ${cp}: ended by ${how ?? 'itself'}; starting a fresh one, its exports are re-created`,
    );
  }

  private binaryNames(): string[] {
    const names = ['tgtd'];
    if (this.opts.binary) names.push(basename(this.opts.binary));
    return names;
  }

  private async spawnAndWait(): Promise<void> {
    await this.handlePidFile();
    const args = ['-f', '-C', String(this.opts.controlPort), '--iscsi', this.portalSpec()];
    const binary = this.opts.binary ?? 'tgtd';
    this.tail.length = 0;
    this.expectExit = false;
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const pidFile = this.opts.pidFile;
    let pidWritten: Promise<void> = Promise.resolve();
    if (pidFile && child.pid !== undefined) {
      const pid = child.pid;
      pidWritten = writePidFile(pidFile, pid).catch((err: unknown) => {
        this.opts.logger?.warn?.(`could not write tgtd pid file ${pidFile}: ${errText(err)}`);
      });
    }
    let portalFailed = false;
    let spawnError: Error | undefined;
    const onLine = (line: string): void => {
      this.tail.push(line);
      if (this.tail.length > 40) this.tail.shift();
      if (PORTAL_FAILED.test(line)) portalFailed = true;
      if (NOISE.test(line)) this.opts.logger?.debug?.(`tgtd: ${line}`);
      else if (/fail|error|unable/i.test(line)) this.opts.logger?.warn?.(`tgtd: ${line}`);
      else this.opts.logger?.debug?.(`tgtd: ${line}`);
    };
    pipeLines(child.stdout, onLine);
    pipeLines(child.stderr, onLine);
    child.once('error', (err) => {
      spawnError = err;
    });
    this.exitPromise = new Promise<void>((resolve) => {
      child.once('close', (code, signal) => {
        const info: TgtdExitInfo = { pid: child.pid ?? -1, code, signal, expected: this.expectExit };
        if (this.child === child) this.ready = false;
        if (info.expected) this.opts.logger?.log?.(`tgtd (pid ${info.pid}) exited`);
        else this.opts.logger?.error?.(`tgtd (pid ${info.pid}) exited unexpectedly: code ${code}, signal ${signal}`);
        // Drop our pid file before anyone hears of the exit, so a restart never races with the removal.
        const cleaned = pidFile && child.pid !== undefined ? pidWritten.then(() => removePidFileIf(pidFile, info.pid)) : Promise.resolve();
        void cleaned.finally(() => {
          resolve();
          if (child.pid !== undefined) this.emit('exit', info);
        });
      });
    });

    const deadline = Date.now() + (this.opts.startTimeoutMs ?? 5000);
    let lastError: unknown;
    for (;;) {
      if (spawnError || child.exitCode !== null || child.signalCode !== null) {
        this.expectExit = true;
        await this.exitPromise;
        const why = spawnError ? spawnError.message : `exited with code ${child.exitCode}, signal ${child.signalCode}`;
        throw this.startFailure(`tgtd ${why}`, spawnError);
      }
      if (portalFailed) {
        await this.killAfterFailedStart();
        throw this.startFailure(`tgtd could not bind the portal ${this.portalText()} (address in use or unavailable)`);
      }
      try {
        await this.adapter.showSystem();
        if (await this.ownsPortal(child.pid!)) {
          await this.tcpProbe(Math.max(100, deadline - Date.now()));
          await pidWritten;
          this.ready = true;
          const where = `${this.portalText()}, control port ${this.opts.controlPort}`;
          this.opts.logger?.log?.(`tgtd (pid ${child.pid}) ready on ${where}`);
          return;
        }
        lastError = new Error(`tgtd does not listen on ${this.portalText()} yet`);
      } catch (err) {
        lastError = err;
      }
      if (Date.now() >= deadline) {
        await this.killAfterFailedStart();
        const bound = this.opts.startTimeoutMs ?? 5000;
        throw this.startFailure(`tgtd not ready within ${bound} ms: ${errText(lastError)}`, lastError);
      }
      await delay(50);
    }
  }

  private startFailure(message: string, cause?: unknown): TgtError {
    const tail = this.tail
      .filter((l) => !NOISE.test(l))
      .slice(-8)
      .join(' | ');
    return new TgtError(TgtErrorCode.DAEMON_START_FAILED, tail ? `${message}; tgtd said: ${tail}` : message, { cause });
  }

  /** tgtd without a portal has no targets yet: `sys delete` ends it; SIGKILL if that does not work quickly. */
  private async killAfterFailedStart(): Promise<void> {
    this.expectExit = true;
    try {
      await this.adapter.deleteSystem();
    } catch {
      // fall through to SIGKILL
    }
    await this.waitForExitOrKill(1000);
    await this.removeSocketFiles();
  }

  /** True when a LISTEN socket on the portal port belongs to `pid` (Linux /proc). Without /proc: true. */
  private async ownsPortal(pid: number): Promise<boolean> {
    const port = this.opts.portal.port;
    const inodes = new Set<string>();
    let sawProc = false;
    for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
        sawProc = true;
      } catch {
        continue;
      }
      for (const line of text.split('\n').slice(1)) {
        const f = line.trim().split(/\s+/);
        // sl local_address rem_address st tx:rx tr:tm retrnsmt uid timeout inode
        if (f.length < 10 || f[3] !== '0A') continue;
        if (parseInt(f[1].split(':')[1], 16) === port) inodes.add(f[9]);
      }
    }
    if (!sawProc) return true;
    if (inodes.size === 0) return false;
    let fds: string[];
    try {
      fds = await readdir(`/proc/${pid}/fd`);
    } catch {
      return false;
    }
    for (const fd of fds) {
      const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m && inodes.has(m[1])) return true;
    }
    return false;
  }

  /** One TCP connect to the portal (the address tgtd was told to bind). */
  private tcpProbe(timeoutMs: number): Promise<void> {
    const { address, port } = this.opts.portal;
    const host = address === '0.0.0.0' ? '127.0.0.1' : address === '::' ? '::1' : address;
    return new Promise((resolve, reject) => {
      const sock = connect({ host, port });
      const timer = setTimeout(
        () => {
          sock.destroy();
          reject(new Error(`TCP connect to ${this.portalText()} timed out`));
        },
        Math.min(timeoutMs, 2000),
      );
      sock.once('connect', () => {
        clearTimeout(timer);
        sock.destroy();
        resolve();
      });
      sock.once('error', (err) => {
        clearTimeout(timer);
        sock.destroy();
        reject(err);
      });
    });
  }

  // ---- stop ----------------------------------------------------------------------------------------------------

  private async gracefulStop(): Promise<void> {
    const started = Date.now();
    let deadline = started + (this.opts.stopTimeoutMs ?? 5000);
    this.expectExit = true;
    this.ready = false;
    const pid = this.child?.pid;
    try {
      const targets = await this.adapter.showTargets();
      if (targets.length > 0) {
        deadline += targets.length * (this.opts.stopPerTargetMs ?? 100);
        this.opts.logger?.log?.(`stopping tgtd (pid ${pid}): removing its ${targets.length} target(s) first`);
        const r = await removeAllTargets(
          this.adapter,
          targets.map((t) => t.tid),
          { timeoutMs: Math.max(0, deadline - Date.now()) },
        );
        const took = `${Date.now() - started} ms`;
        if (r.left > 0) throw new Error(`${r.left} of ${targets.length} target(s) still there after ${took}${r.error ? `: ${r.error.message}` : ''}`);
        this.opts.logger?.log?.(`tgtd (pid ${pid}): ${r.removed} target(s) removed in ${took}`);
      }
      await this.adapter.deleteSystem();
    } catch (err) {
      if (!isTgtError(err, TgtErrorCode.DAEMON_UNREACHABLE)) {
        this.opts.logger?.warn?.(`graceful tgtd stop failed, will SIGKILL: ${errText(err)}`);
      }
    }
    await this.waitForExitOrKill(Math.max(200, deadline - Date.now()));
    await this.removeSocketFiles();
  }

  /** tgtd leaves its socket and lock file behind; remove ours once our tgtd is gone. */
  private async removeSocketFiles(): Promise<void> {
    const child = this.child;
    if (!child || (child.exitCode === null && child.signalCode === null)) return;
    const base = `${TGTD_SOCKET_DIR}/socket.${this.opts.controlPort}`;
    await Promise.all([rm(base, { force: true }), rm(`${base}.lock`, { force: true })]).catch(() => undefined);
  }

  private async waitForExitOrKill(graceMs: number): Promise<void> {
    const child = this.child;
    const exited = this.exitPromise;
    if (!child || !exited) return;
    const inTime = await Promise.race([exited.then(() => true), delay(graceMs).then(() => false)]);
    if (inTime) return;
    if (child.exitCode === null && child.signalCode === null) {
      this.opts.logger?.warn?.(`tgtd (pid ${child.pid}) still running after ${graceMs} ms, sending SIGKILL`);
      child.kill('SIGKILL');
    }
    await Promise.race([exited, delay(5000)]);
  }

  private portalText(): string {
    const { address, port } = this.opts.portal;
    return isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
  }
}

function pipeLines(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  if (!stream) return;
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buf += chunk;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i).trimEnd();
      buf = buf.slice(i + 1);
      if (line) onLine(line);
    }
    if (buf.length > 64 * 1024) buf = '';
  });
  stream.on('end', () => {
    if (buf.trim()) onLine(buf.trim());
  });
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
