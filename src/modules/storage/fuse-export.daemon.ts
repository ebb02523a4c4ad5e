/**
 * One supervised `qemu-storage-daemon` (QEMU's block layer without a VM) serving many qcow2 overlays as raw files
 * through FUSE exports, driven over QMP.
 *
 * Why one daemon for all disks, not one per disk: an idle qemu-storage-daemon is ~9 MB RSS and a process; 1,000 of
 * them would be ~9 GB and 1,000 children to supervise. One daemon with 1,000 exports measured ~215 MB RSS and 3 fds
 * per disk (overlay, backing version, /dev/fuse) — 3,000 fds, well inside the 20,000 Node raises its limit to and the
 * daemon inherits. Adding an export is two QMP commands (~2 ms).
 *
 * One main loop: it polls every FUSE device per wake-up, so a request costs O(exports) (measured: 1,000 exports cost
 * 4.4-7.9 ms of daemon CPU per 8 MiB read; spread over 16 `iothread`s, 3.0 ms). Exports are not put in I/O threads:
 * there QEMU 7.2 refused `block-export-del` of an idle export ("still in use"), which broke orphan-disk removal.
 *
 * Crash behaviour (the daemon is started in its own session, so it outlives a `kill -9` of DLS, like tgtd):
 * - DLS dies: the next {@link start} finds the daemon through the pid file (checked against /proc: our binary, our
 *   QMP socket), connects and keeps it, exports and all — nothing a client has open is disturbed. A pid file naming a
 *   daemon that does not answer QMP gets SIGKILL (by that pid only) and a fresh daemon is started.
 * - The daemon dies: every FUSE mount it served is left "Transport endpoint is not connected". The owner gets `'down'`
 *   (the QMP socket closed), {@link sweepMounts} lazily unmounts them (`umount -l`: tgtd may still hold them open),
 *   and a restart re-adds the exports.
 * - Stop: `quit` over QMP deletes every export (unmounting it) and exits; SIGKILL after a bound; then the sweep.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { constants as fsConstants, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { CommandRunner, firstLine, spawnCommand } from '@common/exec/command-runner';
import { QmpClient } from './qmp.client';
import { StorageError, StorageErrorCode } from './storage.errors';

export interface FuseExportDaemonOptions {
  /** Directory for the pid file, log and (when the path fits) the QMP socket; created if missing. */
  runDir: string;
  binary?: string;
  /** Bound on start-up readiness and on each QMP command (default 30 s: a loaded host with 1,000 disks). */
  timeoutMs?: number;
  runner?: CommandRunner;
  logger?: { log(msg: string): void; warn(msg: string): void; error(msg: string): void };
  /** The FUSE device (tests point it at a missing path to prove the error). */
  fuseDevice?: string;
}

/** True when `pid` sees the same mounts as this process (its mount namespace is ours). */
async function sameMountNamespace(pid: number): Promise<boolean> {
  const [theirs, ours] = await Promise.all([fsp.readlink(`/proc/${pid}/ns/mnt`).catch(() => ''), fsp.readlink('/proc/self/ns/mnt').catch(() => '')]);
  return theirs !== '' && theirs === ours;
}

/** An export the daemon serves: `key` (a client UUID) → the mountpoint it is attached to. */
export interface FuseExport {
  key: string;
  nodeName: string;
}

/**
 * glibc malloc settings for the daemon. QEMU's FUSE export allocates a bounce buffer per request (up to 1 MiB) and
 * frees it after the reply; with glibc's defaults those buffers are mmap'd or trimmed back to the kernel each time, so
 * every request faulted in and zeroed fresh pages: 2/3 of the daemon's CPU per read (measured with perf:
 * exc_page_fault, clear_page). Keeping buffers up to 8 MiB in the heap and trimming only above 64 MiB free cut the
 * daemon's CPU per 8 MiB read from 6.6 to 2.3 ms. An operator's own GLIBC_TUNABLES go after ours, so they win.
 */
export function daemonMallocTunables(existing: string | undefined): string {
  const ours = 'glibc.malloc.mmap_threshold=8388608:glibc.malloc.trim_threshold=67108864';
  return existing ? `${ours}:${existing}` : ours;
}

/** sockaddr_un.sun_path is 108 bytes including the NUL. */
const SUN_PATH_MAX = 107;
const EXPORT_PREFIX = 'dls-';
const KEY_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** QEMU node names are at most 31 characters: `n` + the first 30 hex digits of the UUID (120 bits). */
export function nodeNameOf(key: string): string {
  return `n${key.replace(/-/g, '').slice(0, 30)}`;
}

/** Decodes the octal escapes (`\040` for a space) of /proc/self/mounts fields. */
function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** FUSE mountpoints (fstype `fuse`, source `/dev/fuse`: what qemu-storage-daemon mounts) in a mounts table. */
export function fuseMountpoints(mountsText: string): string[] {
  const out: string[] = [];
  for (const line of mountsText.split('\n')) {
    const f = line.split(' ');
    if (f.length >= 3 && f[0] === '/dev/fuse' && f[2] === 'fuse') out.push(unescapeMountField(f[1]));
  }
  return out;
}

/** Supervises the daemon. Emits `'down'` when it exits unexpectedly (not after {@link stop}). */
export class FuseExportDaemon extends EventEmitter {
  private readonly runDir: string;
  private readonly binary: string;
  private readonly timeoutMs: number;
  private readonly runner: CommandRunner;
  private readonly fuseDevice: string;
  private qmp?: QmpClient;
  private pid?: number;
  private starting?: Promise<void>;
  private stopping = false;
  private aio: 'io_uring' | 'threads' = 'io_uring';

  constructor(private readonly options: FuseExportDaemonOptions) {
    super();
    if (!path.isAbsolute(options.runDir) || /[,\0]/.test(options.runDir)) {
      throw new StorageError(StorageErrorCode.INVALID_NAME, `run dir must be an absolute path without commas: ${options.runDir}`);
    }
    this.runDir = options.runDir;
    this.binary = options.binary ?? 'qemu-storage-daemon';
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.runner = options.runner ?? spawnCommand;
    this.fuseDevice = options.fuseDevice ?? '/dev/fuse';
  }

  /** The QMP socket: in the run dir, or under /run/dls when that path is too long for a unix socket. */
  get socketPath(): string {
    const inRunDir = path.join(this.runDir, 'qsd.sock');
    if (Buffer.byteLength(inRunDir) <= SUN_PATH_MAX) return inRunDir;
    return path.join('/run/dls', `qsd-${createHash('sha256').update(this.runDir).digest('hex').slice(0, 16)}.sock`);
  }

  get pidFile(): string {
    return path.join(this.runDir, 'qsd.pid');
  }

  get running(): boolean {
    return this.qmp?.isOpen === true;
  }

  get daemonPid(): number | undefined {
    return this.pid;
  }

  /**
   * Attaches to the daemon a previous run left (see the module comment) or starts one. Idempotent. Fails fast with
   * POOL_UNAVAILABLE naming the cause when FUSE or the binary is missing, or the daemon does not answer in time.
   */
  start(): Promise<void> {
    if (this.running) return Promise.resolve();
    this.starting ??= this.doStart().finally(() => (this.starting = undefined));
    return this.starting;
  }

  /** The exports the daemon serves now (ours: id `dls-<uuid>`). */
  async list(): Promise<FuseExport[]> {
    const rows = await this.client().execute<{ id: string; 'node-name': string }[]>('query-block-exports');
    return rows
      .filter((r) => r.id.startsWith(EXPORT_PREFIX) && KEY_RE.test(r.id.slice(EXPORT_PREFIX.length)))
      .map((r) => ({ key: r.id.slice(EXPORT_PREFIX.length), nodeName: r['node-name'] }));
  }

  /**
   * Opens `overlay` (qcow2; its backing file is read-only) and mounts it writable as a raw file on `mountpoint`
   * (an existing regular file). A node left by a half-done attach is replaced. Not idempotent by itself: callers
   * consult {@link list} or their own record.
   */
  async attach(key: string, overlay: string, mountpoint: string, backing: string): Promise<void> {
    const node = this.nodeFor(key);
    const qmp = this.client();
    const add = () =>
      qmp.execute('blockdev-add', {
        driver: 'qcow2',
        'node-name': node,
        discard: 'unmap', // TRIM from the client frees overlay clusters
        file: { driver: 'file', filename: overlay, aio: this.aio },
        // The version, named here rather than read from the overlay's header, and never opened writable.
        backing: { driver: 'raw', 'read-only': true, file: { driver: 'file', filename: backing, aio: this.aio, 'read-only': true } },
      });
    const addOnce = async () => {
      try {
        await add();
      } catch (e) {
        // io_uring: ~2-3x the read throughput of the thread pool through FUSE here; a kernel or seccomp policy
        // without it gets the thread pool.
        if (this.aio !== 'io_uring' || !/io_uring|aio/i.test((e as Error).message)) throw e;
        this.options.logger?.warn(`qemu-storage-daemon: io_uring unavailable (${(e as Error).message}); using its thread pool`);
        this.aio = 'threads';
        await add();
      }
    };
    try {
      await addOnce();
    } catch (e) {
      if (!/Duplicate nodes? name|already exists/i.test((e as Error).message)) throw e;
      await qmp.execute('blockdev-del', { 'node-name': node });
      await addOnce();
    }
    try {
      await qmp.execute('block-export-add', {
        type: 'fuse',
        id: `${EXPORT_PREFIX}${key}`,
        'node-name': node,
        mountpoint,
        writable: true,
      });
    } catch (e) {
      await qmp.execute('blockdev-del', { 'node-name': node }).catch(() => undefined);
      throw e;
    }
  }

  /** Unmounts and closes the export of `key` (idempotent): waits for the export to go before closing its node. */
  async detach(key: string): Promise<void> {
    const node = this.nodeFor(key);
    const id = `${EXPORT_PREFIX}${key}`;
    const qmp = this.client();
    // No listing first (O(exports) per call): an export that is not there answers "not found".
    const gone = qmp.waitForEvent('BLOCK_EXPORT_DELETED', (d) => d['id'] === id, this.timeoutMs);
    let deleting = true;
    try {
      await qmp.execute('block-export-del', { id });
    } catch (e) {
      gone.catch(() => undefined);
      if (!/not found|no export/i.test((e as Error).message)) throw e;
      deleting = false;
    }
    if (deleting) {
      await gone.catch(async (e) => {
        if ((await this.list()).some((x) => x.key === key)) throw e;
      });
    }
    try {
      await qmp.execute('blockdev-del', { 'node-name': node });
    } catch (e) {
      if (!/Failed to find node|Cannot find node/i.test((e as Error).message)) throw e;
    }
  }

  /**
   * Proves FUSE exports work here (the daemon may start but the mount be refused: no CAP_SYS_ADMIN in a container,
   * a device policy): exports a 1 MiB null block device on `mountpoint` (a file it creates) and removes it again.
   */
  async probe(mountpoint: string): Promise<void> {
    const qmp = this.client();
    await fsp.writeFile(mountpoint, '');
    try {
      await qmp.execute('blockdev-add', { driver: 'null-co', 'node-name': 'dls-probe', size: 1024 * 1024 });
      try {
        await qmp.execute('block-export-add', { type: 'fuse', id: 'dls-probe', 'node-name': 'dls-probe', mountpoint, writable: false });
        const gone = qmp.waitForEvent('BLOCK_EXPORT_DELETED', (d) => d['id'] === 'dls-probe', this.timeoutMs);
        await qmp.execute('block-export-del', { id: 'dls-probe' });
        await gone;
      } finally {
        await qmp.execute('blockdev-del', { 'node-name': 'dls-probe' }).catch(() => undefined);
      }
    } catch (e) {
      throw new StorageError(StorageErrorCode.POOL_UNAVAILABLE, `FUSE exports do not work here: ${(e as Error).message}`);
    } finally {
      await fsp.rm(mountpoint, { force: true }).catch(() => undefined);
    }
  }

  /**
   * Lazily unmounts every FUSE mount that `isOurs` claims and the daemon does not serve now (`live` mountpoints):
   * leftovers of a daemon that died. Returns the mountpoints it unmounted.
   */
  async sweepMounts(isOurs: (mountpoint: string) => boolean, live: ReadonlySet<string>): Promise<string[]> {
    const text = await fsp.readFile('/proc/self/mounts', 'utf8');
    const stale = fuseMountpoints(text).filter((m) => isOurs(m) && !live.has(m));
    for (const m of stale) {
      const r = await this.runner('umount', ['-l', m], { timeoutMs: this.timeoutMs });
      if (r.code !== 0 && !/not mounted|no mount point/i.test(r.stderr)) {
        throw new StorageError(StorageErrorCode.COMMAND_FAILED, `cannot unmount stale FUSE export ${m}: ${firstLine(r.stderr)}`);
      }
    }
    return stale;
  }

  /** Ends the daemon: `quit` (every export is deleted and unmounted), SIGKILL by pid after the bound. Idempotent. */
  async stop(): Promise<void> {
    // A start in flight learns the daemon's pid only once it answers: stopping before that would leave it running.
    await this.starting?.catch(() => undefined);
    await this.quit();
  }

  /** stop() without waiting for a start in flight: the start itself uses it on a daemon it will replace. */
  private async quit(): Promise<void> {
    this.stopping = true;
    try {
      const pid = this.pid;
      if (this.qmp?.isOpen) {
        await this.qmp.execute('quit').catch(() => undefined);
      }
      this.qmp?.close();
      this.qmp = undefined;
      if (pid !== undefined) {
        if (!(await this.waitGone(pid, this.timeoutMs)) && (await this.isOurDaemon(pid))) {
          process.kill(pid, 'SIGKILL');
          await this.waitGone(pid, this.timeoutMs);
        }
        await this.removePidFileIf(pid);
      }
      this.pid = undefined;
    } finally {
      this.stopping = false;
    }
  }

  private client(): QmpClient {
    if (!this.qmp?.isOpen) throw new StorageError(StorageErrorCode.DAEMON_DOWN, 'qemu-storage-daemon is not running');
    return this.qmp;
  }

  private nodeFor(key: string): string {
    if (!KEY_RE.test(key)) throw new StorageError(StorageErrorCode.INVALID_NAME, `invalid export key ${JSON.stringify(key)}`);
    return nodeNameOf(key);
  }

  private async doStart(): Promise<void> {
    try {
      await fsp.access(this.fuseDevice, fsConstants.R_OK | fsConstants.W_OK);
    } catch (e) {
      throw new StorageError(
        StorageErrorCode.POOL_UNAVAILABLE,
        `FUSE is unavailable (${this.fuseDevice}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): overlay client disks need it — ` +
          'load the fuse module / give the container /dev/fuse, or set DLS_DIR_CLONE=copy',
      );
    }
    await fsp.mkdir(this.runDir, { recursive: true });
    await fsp.mkdir(path.dirname(this.socketPath), { recursive: true });
    const leftover = await this.readPidFile();
    if (leftover !== undefined && (await this.isOurDaemon(leftover))) {
      try {
        await this.connect(leftover);
        if (await sameMountNamespace(leftover)) {
          this.options.logger?.log(`qemu-storage-daemon pid ${leftover} left by a previous run answers: attached`);
          return;
        }
        // Its FUSE mounts live in the mount namespace it was started in (a DLS under `ip netns exec`, or a unit with
        // private mounts): invisible here and to the tgtd this DLS starts. Quit it cleanly (exports unmounted, overlays
        // closed) and serve the disks from a daemon of our own.
        this.options.logger?.warn(`qemu-storage-daemon pid ${leftover} serves its disks in another mount namespace: restarting it here`);
        await this.quit();
      } catch {
        this.options.logger?.warn(`qemu-storage-daemon pid ${leftover} does not answer QMP: killing it`);
        process.kill(leftover, 'SIGKILL');
        await this.waitGone(leftover, this.timeoutMs);
      }
    }
    await fsp.rm(this.socketPath, { force: true });
    const log = await fsp.open(path.join(this.runDir, 'qsd.log'), 'a');
    let spawning: Promise<number>;
    let exited = false;
    try {
      const child = spawn(
        this.binary,
        ['--chardev', `socket,id=qmp,path=${this.socketPath.replace(/,/g, ',,')},server=on,wait=off`, '--monitor', 'chardev=qmp'],
        // Own session and no pipes: the daemon outlives a kill -9 of DLS (tgtd holds its files open meanwhile).
        {
          detached: true,
          stdio: ['ignore', log.fd, log.fd],
          env: { ...process.env, GLIBC_TUNABLES: daemonMallocTunables(process.env.GLIBC_TUNABLES) },
        },
      );
      spawning = new Promise<number>((resolve, reject) => {
        child.once('error', (e) =>
          reject(new StorageError(StorageErrorCode.POOL_UNAVAILABLE, `cannot start ${this.binary}: ${e.message} (Debian: qemu-system-common)`)),
        );
        child.once('spawn', () => resolve(child.pid!));
      });
      child.once('exit', () => (exited = true));
      child.unref();
    } finally {
      await log.close();
    }
    const spawned = await spawning;
    await fsp.writeFile(this.pidFile, `${spawned}\n`);
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      try {
        await this.connect(spawned);
        return;
      } catch (e) {
        if (exited || Date.now() > deadline) {
          const tail = await fsp.readFile(path.join(this.runDir, 'qsd.log'), 'utf8').catch(() => '');
          if (!exited) process.kill(spawned, 'SIGKILL');
          await this.removePidFileIf(spawned);
          throw new StorageError(
            StorageErrorCode.POOL_UNAVAILABLE,
            `qemu-storage-daemon did not come up: ${firstLine(tail.split('\n').slice(-5).join('\n')) || (e as Error).message}`,
          );
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  private async connect(pid: number): Promise<void> {
    const qmp = await QmpClient.connect(this.socketPath, this.timeoutMs);
    this.qmp = qmp;
    this.pid = pid;
    qmp.once('close', () => {
      if (this.qmp !== qmp) return;
      this.qmp = undefined;
      if (!this.stopping) {
        this.options.logger?.error(`qemu-storage-daemon (pid ${pid}) went away`);
        this.emit('down', pid);
      }
    });
  }

  private async readPidFile(): Promise<number | undefined> {
    const text = await fsp.readFile(this.pidFile, 'utf8').catch(() => undefined);
    const m = text !== undefined ? /^\s*(\d{1,7})\s*$/.exec(text) : null;
    const pid = m ? Number(m[1]) : undefined;
    return pid !== undefined && pid > 1 && pid !== process.pid ? pid : undefined;
  }

  private async removePidFileIf(pid: number): Promise<void> {
    if ((await this.readPidFile()) === pid) await fsp.rm(this.pidFile, { force: true });
  }

  /** /proc says `pid` is a live qemu-storage-daemon started with our QMP socket. */
  private async isOurDaemon(pid: number): Promise<boolean> {
    const stat = await fsp.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
    if (stat === undefined || /^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2))) return false;
    const argv = (await fsp.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    return (
      path.basename(argv[0] ?? '') === path.basename(this.binary) && argv.some((a) => a.includes(`path=${this.socketPath.replace(/,/g, ',,')},`))
    );
  }

  /**
   * Waits until `pid` has exited (gone or a zombie). Not {@link isOurDaemon}: an exiting process loses its cmdline
   * before it stops running, which would read as "gone" while it still holds its mounts.
   */
  private async waitGone(pid: number, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const stat = await fsp.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
      if (stat === undefined || /^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2))) return true;
      await new Promise((r) => setTimeout(r, 20));
    }
    return false;
  }
}
