import { spawn } from 'node:child_process';
import { PassThrough, Readable, Writable, finished } from 'node:stream';
import { CommandResult, CommandRunner, firstLine, spawnCommand } from '@common/exec/command-runner';
import { KeyedLock } from '@common/concurrency/keyed-lock';
import { StorageError, StorageErrorCode, isStorageError } from './storage.errors';

/** Minimal logger shape (Nest's `Logger` satisfies it). */
export interface StorageLogger {
  warn(message: string): void;
  debug?(message: string): void;
}

export interface ZfsBusyRetryOptions {
  /** Give up after this much time in total (default 180 s: busy windows of 65 s and 104 s were measured). */
  maxMs: number;
  /** First back-off delay; doubles each try (default 100 ms). */
  initialMs: number;
  /** Cap of one back-off delay (default 5 s). */
  maxDelayMs?: number;
}

export interface ZfsAdapterOptions {
  zfsBinary?: string;
  zpoolBinary?: string;
  /** Per-invocation timeout; the whole process group is killed on expiry (default 60 s). */
  timeoutMs?: number;
  busyRetry?: Partial<ZfsBusyRetryOptions>;
  logger?: StorageLogger;
  /** Injected for unit specs; defaults to {@link spawnCommand}. */
  runner?: CommandRunner;
  /** Injected for unit specs; defaults to a `setTimeout` promise. */
  sleep?: (ms: number) => Promise<void>;
  /** Injected for unit specs; defaults to `Date.now`. */
  now?: () => number;
  /** Starts `zfs send` / `zfs receive` with streamed stdio; injected for unit specs, defaults to {@link spawnStreaming}. */
  streamSpawner?: StreamSpawner;
}

/** A running CLI whose stdin/stdout are streams (`zfs send`, `zfs receive`), not captured text. */
export interface StreamingProcess {
  stdin: Writable;
  stdout: Readable;
  stderr: Readable;
  /** Settles once the process has exited and its stdio is closed; rejects when it could not be started. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Kills the process (its whole process group). */
  kill(): void;
}

export type StreamSpawner = (file: string, args: readonly string[]) => StreamingProcess;

/** The production {@link StreamSpawner}: `spawn` in its own process group, argv only. */
export const spawnStreaming: StreamSpawner = (file, args) => {
  const child = spawn(file, [...args], { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  return {
    stdin: child.stdin,
    stdout: child.stdout,
    stderr: child.stderr,
    exited,
    kill: () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    },
  };
};

/** Captures at most 64 KiB of a stream's text (stderr of a streaming zfs command). */
function captureText(stream: Readable): () => string {
  let text = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    if (text.length < 65_536) text += chunk;
  });
  stream.on('error', () => undefined);
  return () => text;
}

/** One cell of `zfs get -H -p -o name,property,value,source`. `source` is `local`, `default`, `-`, `inherited from X`. */
export interface ZfsProperty {
  value: string;
  source: string;
}

/** dataset name → property name → value. */
export type ZfsPropertyTable = Map<string, Map<string, ZfsProperty>>;

export type ZfsDatasetType = 'filesystem' | 'snapshot' | 'volume';

export interface ZfsListEntry {
  name: string;
  type: ZfsDatasetType;
}

export interface ZfsDestroyOptions {
  /** `-r`: also destroy descendants/snapshots (not atomic on zfs-fuse; prefer checking preconditions). */
  recursive?: boolean;
  /** `-d`: deferred destroy of a snapshot; it disappears when its last clone goes. */
  deferred?: boolean;
  /** Retry `dataset is busy` with capped exponential back-off (default true). */
  retryBusy?: boolean;
}

/** One dataset path component (allow-list; lower case, no spaces, no `@`, cannot start with `.` or `-`). */
export const ZFS_COMPONENT_RE = /^[a-z0-9][a-z0-9_.:-]*$/;
/** Pool names must start with a letter (zpool(8)). */
export const ZFS_POOL_RE = /^[a-z][a-z0-9_.:-]*$/;
/** User property `module:name`, lower case (zfs-fuse rejects upper case with `invalid property`). */
export const ZFS_USER_PROP_RE = /^[a-z0-9][a-z0-9_.-]*:[a-z0-9_.:-]+$/;
/** Native property names (`compression`, `mountpoint`, `usedbydataset`, ...). */
export const ZFS_NATIVE_PROP_RE = /^[a-z][a-z0-9_]*$/;
/** Property values we ever write: no spaces, TABs or newlines (they would break `-H` parsing). */
export const ZFS_VALUE_RE = /^[A-Za-z0-9._:-]{1,1024}$/;

const MAX_NAME_LENGTH = 250;

function invalid(message: string, value: unknown): StorageError {
  return new StorageError(StorageErrorCode.INVALID_NAME, message, { value: String(value).slice(0, 200) });
}

/** Throws INVALID_NAME unless `name` is `pool[/component...]` with every component on the allow-list. */
export function assertDatasetName(name: string): void {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME_LENGTH) {
    throw invalid('invalid dataset name', name);
  }
  const parts = name.split('/');
  if (!ZFS_POOL_RE.test(parts[0])) throw invalid(`invalid pool name in '${name}'`, name);
  for (const part of parts.slice(1)) {
    if (!ZFS_COMPONENT_RE.test(part)) throw invalid(`invalid dataset name '${name}'`, name);
  }
}

/** Throws INVALID_NAME unless `name` is `<dataset>@<snap>`; returns both halves. */
export function assertSnapshotName(name: string): { dataset: string; snapshot: string } {
  if (typeof name !== 'string') throw invalid('invalid snapshot name', name);
  const at = name.indexOf('@');
  if (at < 0 || at !== name.lastIndexOf('@')) throw invalid(`invalid snapshot name '${name}'`, name);
  const dataset = name.slice(0, at);
  const snapshot = name.slice(at + 1);
  assertDatasetName(dataset);
  if (!ZFS_COMPONENT_RE.test(snapshot) || name.length > MAX_NAME_LENGTH) {
    throw invalid(`invalid snapshot name '${name}'`, name);
  }
  return { dataset, snapshot };
}

/** Dataset or snapshot. */
export function assertDatasetOrSnapshotName(name: string): void {
  if (typeof name === 'string' && name.includes('@')) assertSnapshotName(name);
  else assertDatasetName(name);
}

export function assertPropertyName(prop: string): void {
  if (typeof prop !== 'string' || prop.length > 100 || !(ZFS_USER_PROP_RE.test(prop) || ZFS_NATIVE_PROP_RE.test(prop))) {
    throw invalid(`invalid property name '${String(prop).slice(0, 100)}'`, prop);
  }
}

export function assertPropertyValue(prop: string, value: string): void {
  if (typeof value !== 'string' || !ZFS_VALUE_RE.test(value)) {
    throw invalid(`invalid value for property '${prop}'`, value);
  }
}

function propArgs(props: Record<string, string>): string[] {
  const args: string[] = [];
  for (const [key, value] of Object.entries(props)) {
    assertPropertyName(key);
    assertPropertyValue(key, value);
    args.push('-o', `${key}=${value}`);
  }
  return args;
}

/** Lines after `use '-r'/'-R' to ... the following datasets:` (dependent clones, children, newer snapshots). */
function listedNames(stderr: string): string[] {
  const lines = stderr.split('\n');
  const idx = lines.findIndex((l) => /^use '-[rR]' to /.test(l));
  if (idx < 0) return [];
  return lines
    .slice(idx + 1)
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

/**
 * Maps a failed zfs/zpool invocation to a typed error. The stderr text is the only way to tell zfs errors apart
 * (almost everything exits 1); signal deaths (134/137/255) are infrastructure faults, not domain errors.
 */
export function mapZfsFailure(command: string, args: readonly string[], result: CommandResult): StorageError {
  const stderr = result.stderr;
  const details: Record<string, unknown> = {
    command: [command, ...args].join(' '),
    exitCode: result.code,
    signal: result.signal,
    stderr: stderr.split('\n').slice(0, 6).join('\n').slice(0, 1000),
  };
  const reason = firstLine(stderr) || `exit ${result.code ?? result.signal}`;
  const err = (code: StorageErrorCode, extra: Record<string, unknown> = {}): StorageError =>
    new StorageError(code, `${command} ${args[0] ?? ''}: ${reason}`, { ...details, ...extra });

  if (result.timedOut) {
    return new StorageError(StorageErrorCode.TIMEOUT, `${command} ${args[0] ?? ''}: timed out`, details);
  }
  if (/Connection refused|Connection reset by peer|make sure that the zfs-fuse daemon is running|failed to initialize ZFS library/i.test(stderr)) {
    return err(StorageErrorCode.DAEMON_DOWN, { infrastructure: true });
  }
  if (result.signal !== null || result.code === 134 || result.code === 137 || result.code === 255) {
    const unsupported = /Function not implemented|pyzfs\.py not found/.test(stderr);
    return err(StorageErrorCode.COMMAND_FAILED, { infrastructure: true, ...(unsupported ? { reason: 'unsupported' } : {}) });
  }
  // zfs send / zfs receive
  if (/invalid backup stream|checksum mismatch|bad magic number|stream ends prematurely/i.test(stderr)) {
    return err(StorageErrorCode.COMMAND_FAILED, { reason: 'invalid-stream' });
  }
  if (/does not\s+match incremental source|destination has been modified since most recent snapshot/.test(stderr)) {
    return err(StorageErrorCode.HAS_DEPENDENTS, { reason: 'incremental-source' });
  }
  if (/destination has snapshots/.test(stderr)) return err(StorageErrorCode.HAS_DEPENDENTS, { reason: 'snapshots' });
  if (/incremental source \([^)]*\) does not exist|could not send [^:]+: does not exist/.test(stderr)) return err(StorageErrorCode.NOT_FOUND);
  if (/destination '[^']+' exists|destination already exists/.test(stderr)) return err(StorageErrorCode.ALREADY_EXISTS);
  if (/dataset already exists/.test(stderr)) return err(StorageErrorCode.ALREADY_EXISTS);
  if (/tag already exists on this dataset/.test(stderr)) return err(StorageErrorCode.ALREADY_EXISTS, { reason: 'hold-tag' });
  if (/no such pool/.test(stderr)) return err(StorageErrorCode.POOL_UNAVAILABLE);
  const missing = /cannot open '([^']+)': dataset does not exist/.exec(stderr);
  if (missing) {
    // A top-level name that does not exist is a missing pool.
    const isPool = !missing[1].includes('/') && !missing[1].includes('@');
    return err(isPool ? StorageErrorCode.POOL_UNAVAILABLE : StorageErrorCode.NOT_FOUND, { dataset: missing[1] });
  }
  if (/dataset does not exist/.test(stderr)) return err(StorageErrorCode.NOT_FOUND);
  if (/parent does not exist/.test(stderr)) return err(StorageErrorCode.NOT_FOUND, { reason: 'parent' });
  if (/no such tag on this dataset/.test(stderr)) return err(StorageErrorCode.NOT_FOUND, { reason: 'hold-tag' });
  if (/has dependent clones/.test(stderr)) {
    return err(StorageErrorCode.HAS_DEPENDENTS, { reason: 'clones', dependents: listedNames(stderr) });
  }
  if (/has children/.test(stderr)) {
    return err(StorageErrorCode.HAS_DEPENDENTS, { reason: 'children', dependents: listedNames(stderr) });
  }
  if (/more recent snapshots exist/.test(stderr)) {
    return err(StorageErrorCode.HAS_DEPENDENTS, { reason: 'newer-snapshots', dependents: listedNames(stderr) });
  }
  if (/dataset is busy/.test(stderr)) return err(StorageErrorCode.DATASET_BUSY);
  if (/target is busy|umount failed/.test(stderr)) return err(StorageErrorCode.DATASET_BUSY, { reason: 'open-files' });
  if (/not currently mounted/.test(stderr)) return err(StorageErrorCode.NOT_FOUND, { reason: 'not-mounted' });
  if (/already mounted/.test(stderr)) return err(StorageErrorCode.ALREADY_EXISTS, { reason: 'already-mounted' });
  if (/out of space|No space left on device/i.test(stderr)) return err(StorageErrorCode.NO_SPACE);
  if (/snapshot delimiter|invalid property|must be one of|invalid character|name is too long|missing value|bad property list/.test(stderr)) {
    return err(StorageErrorCode.INVALID_NAME);
  }
  if (result.code === 2) return err(StorageErrorCode.COMMAND_FAILED, { reason: 'usage' });
  return err(StorageErrorCode.COMMAND_FAILED);
}

/** Parses `zfs get -H -p -o name,property,value,source` output (TAB-separated; `source` may contain spaces). */
export function parseZfsGet(stdout: string): ZfsPropertyTable {
  const table: ZfsPropertyTable = new Map();
  for (const line of stdout.split('\n')) {
    if (line === '') continue;
    const fields = line.split('\t');
    if (fields.length < 4) continue;
    const name = fields[0];
    const prop = fields[1];
    const source = fields[fields.length - 1];
    const value = fields.slice(2, -1).join('\t');
    let row = table.get(name);
    if (!row) {
      row = new Map();
      table.set(name, row);
    }
    row.set(prop, { value, source });
  }
  return table;
}

/** A property's value, or undefined when absent or shown as `-` (unset). */
export function zfsPropValue(table: ZfsPropertyTable, name: string, prop: string): string | undefined {
  const cell = table.get(name)?.get(prop);
  if (!cell || cell.value === '-') return undefined;
  return cell.value;
}

/** A numeric property (exact, from `-p`); 0 when unset. */
export function zfsPropNumber(table: ZfsPropertyTable, name: string, prop: string): number {
  const v = zfsPropValue(table, name, prop);
  if (v === undefined) return 0;
  const n = Number(v);
  return Number.isFinite(n) ? n : 0;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Thin, safe wrapper over the `zfs`/`zpool` CLIs (written against the zfs-fuse 0.7 / OpenZFS common subset).
 *
 * - argv only (never a shell), allow-listed names and property values, a timeout on every call;
 * - machine output only: `-H` (TAB-separated), exact numbers via `zfs get -H -p`;
 * - stderr mapped to {@link StorageError} codes by {@link mapZfsFailure};
 * - all mutating calls go through ONE in-process FIFO queue (zfs-fuse races on mounts), reads do not;
 * - `dataset is busy` is retried with capped exponential back-off only for destroy/rename/rollback, and never for a
 *   snapshot with a user hold (`userrefs` > 0 is not transient).
 */
export class ZfsAdapter {
  private readonly zfsBin: string;
  private readonly zpoolBin: string;
  private readonly timeoutMs: number;
  private readonly busy: Required<ZfsBusyRetryOptions>;
  private readonly runner: CommandRunner;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;
  private readonly logger?: StorageLogger;
  private readonly queue = new KeyedLock();
  private readonly streamSpawner: StreamSpawner;

  constructor(options: ZfsAdapterOptions = {}) {
    this.zfsBin = options.zfsBinary ?? 'zfs';
    this.zpoolBin = options.zpoolBinary ?? 'zpool';
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.busy = {
      maxMs: options.busyRetry?.maxMs ?? 180_000,
      initialMs: options.busyRetry?.initialMs ?? 100,
      maxDelayMs: options.busyRetry?.maxDelayMs ?? 5_000,
    };
    this.runner = options.runner ?? spawnCommand;
    this.sleep = options.sleep ?? defaultSleep;
    this.now = options.now ?? Date.now;
    this.logger = options.logger;
    this.streamSpawner = options.streamSpawner ?? spawnStreaming;
  }

  /** `zfs create [-p] -o k=v... name`. */
  async create(name: string, props: Record<string, string> = {}, options: { parents?: boolean } = {}): Promise<void> {
    assertDatasetName(name);
    await this.zfs(['create', ...(options.parents ? ['-p'] : []), ...propArgs(props), name], true);
  }

  /** `zfs snapshot -o k=v... ds@snap`. */
  async snapshot(name: string, props: Record<string, string> = {}): Promise<void> {
    assertSnapshotName(name);
    await this.zfs(['snapshot', ...propArgs(props), name], true);
  }

  /** `zfs clone -o k=v... ds@snap name`. Clones do not inherit the origin's user properties: pass them here. */
  async clone(snapshot: string, name: string, props: Record<string, string> = {}): Promise<void> {
    assertSnapshotName(snapshot);
    assertDatasetName(name);
    await this.zfs(['clone', ...propArgs(props), snapshot, name], true);
  }

  /** `zfs destroy [-r] [-d] name`, retrying `dataset is busy` unless `retryBusy: false`. */
  async destroy(name: string, options: ZfsDestroyOptions = {}): Promise<void> {
    assertDatasetOrSnapshotName(name);
    if (options.deferred && !name.includes('@')) throw invalid('deferred destroy applies to snapshots only', name);
    const args = ['destroy', ...(options.recursive ? ['-r'] : []), ...(options.deferred ? ['-d'] : []), name];
    await this.withBusyRetry(name, () => this.zfs(args, true), options.retryBusy !== false);
  }

  /** `zfs hold tag snap` (ALREADY_EXISTS when the tag is already there). */
  async hold(snapshot: string, tag: string): Promise<void> {
    assertSnapshotName(snapshot);
    this.assertTag(tag);
    await this.zfs(['hold', tag, snapshot], true);
  }

  /** `zfs release tag snap` (NOT_FOUND when the tag is absent). */
  async release(snapshot: string, tag: string): Promise<void> {
    assertSnapshotName(snapshot);
    this.assertTag(tag);
    await this.zfs(['release', tag, snapshot], true);
  }

  /** `zfs mount name`; already mounted is success. */
  /** `zfs mount name`; already mounted is success; busy (a just-finished unmount still settling in FUSE) is retried. */
  async mount(name: string): Promise<void> {
    assertDatasetName(name);
    try {
      await this.withBusyRetry(name, () => this.zfs(['mount', name], true), true);
    } catch (e) {
      if (isStorageError(e, StorageErrorCode.ALREADY_EXISTS)) return;
      throw e;
    }
  }

  /** `zfs umount [-f] name`; not mounted is success. Open files → DATASET_BUSY (not retried: not transient). */
  async unmount(name: string, options: { force?: boolean } = {}): Promise<void> {
    assertDatasetName(name);
    try {
      await this.zfs(['umount', ...(options.force ? ['-f'] : []), name], true);
    } catch (e) {
      if (isStorageError(e, StorageErrorCode.NOT_FOUND) && e.details?.reason === 'not-mounted') return;
      throw e;
    }
  }

  /**
   * `zfs mount -a` (zfs-fuse mounts nothing when the daemon starts). "mountpoint or dataset is busy" right after an
   * unmount is zfs-fuse's asynchronous FUSE unmount still settling: retried like a busy destroy.
   */
  async mountAll(): Promise<void> {
    await this.withBusyRetry('-a', () => this.zfs(['mount', '-a'], true), true);
  }

  /** `zfs set k=v name`, one property per call (zfs-fuse accepts only one). */
  async set(name: string, props: Record<string, string>): Promise<void> {
    assertDatasetOrSnapshotName(name);
    for (const [key, value] of Object.entries(props)) {
      assertPropertyName(key);
      assertPropertyValue(key, value);
      await this.zfs(['set', `${key}=${value}`, name], true);
    }
  }

  /** `zfs rename from to` (unmount first on zfs-fuse), busy-retried. */
  async rename(from: string, to: string): Promise<void> {
    assertDatasetOrSnapshotName(from);
    assertDatasetOrSnapshotName(to);
    await this.withBusyRetry(from, () => this.zfs(['rename', from, to], true), true);
  }

  /** `zfs rollback [-r] snap`, busy-retried. Note: zfs-fuse drops the host page cache on rollback. */
  async rollback(snapshot: string, options: { destroyNewer?: boolean } = {}): Promise<void> {
    assertSnapshotName(snapshot);
    const args = ['rollback', ...(options.destroyNewer ? ['-r'] : []), snapshot];
    await this.withBusyRetry(snapshot, () => this.zfs(args, true), true);
  }

  /**
   * `zfs get -H -p -o name,property,value,source props names...` → table. With `allowMissing`, names that do not
   * exist are simply absent from the table instead of failing the whole call.
   */
  async get(
    names: readonly string[],
    props: readonly string[],
    options: { recursive?: boolean; depth?: number; allowMissing?: boolean } = {},
  ): Promise<ZfsPropertyTable> {
    if (names.length === 0) return new Map();
    names.forEach((n) => assertDatasetOrSnapshotName(n));
    if (props.length === 0) throw invalid('no properties requested', '');
    props.forEach((p) => assertPropertyName(p));
    const args = ['get', '-H', '-p'];
    if (options.recursive) args.push('-r');
    if (options.depth !== undefined) {
      if (!Number.isInteger(options.depth) || options.depth < 0) throw invalid('invalid depth', options.depth);
      args.push('-d', String(options.depth));
    }
    args.push('-o', 'name,property,value,source', props.join(','), ...names);
    const result = await this.run(this.zfsBin, args, false);
    if (result.code === 0 && !result.timedOut) return parseZfsGet(result.stdout);
    const onlyMissing =
      options.allowMissing &&
      !result.timedOut &&
      result.code === 1 &&
      result.stderr
        .split('\n')
        .filter((l) => l.trim() !== '')
        .every((l) => /^cannot open '[^']+': dataset does not exist$/.test(l.trim()));
    if (onlyMissing) return parseZfsGet(result.stdout);
    throw mapZfsFailure(this.zfsBin, args, result);
  }

  /** Like {@link get} for one dataset; undefined when it does not exist. */
  async getOne(name: string, props: readonly string[]): Promise<Map<string, ZfsProperty> | undefined> {
    const table = await this.get([name], props, { allowMissing: true });
    return table.get(name);
  }

  /** `zfs list -H -o name,type -r -t <types> [-d depth] root`. */
  async list(root: string, types: readonly ZfsDatasetType[] = ['filesystem', 'snapshot'], options: { depth?: number } = {}): Promise<ZfsListEntry[]> {
    assertDatasetName(root);
    for (const t of types) if (!['filesystem', 'snapshot', 'volume'].includes(t)) throw invalid('invalid type', t);
    const args = ['list', '-H', '-o', 'name,type', '-t', types.join(',')];
    if (options.depth !== undefined) args.push('-d', String(Math.max(0, Math.floor(options.depth))));
    else args.push('-r');
    args.push(root);
    const stdout = await this.zfs(args, false);
    return stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => {
        const [name, type] = l.split('\t');
        return { name, type: type as ZfsDatasetType };
      });
  }

  /** Number of user holds on a snapshot (`zfs holds` is broken on zfs-fuse; `userrefs` works everywhere). */
  async userrefs(snapshot: string): Promise<number> {
    assertSnapshotName(snapshot);
    const table = await this.get([snapshot], ['userrefs']);
    return zfsPropNumber(table, snapshot, 'userrefs');
  }

  /**
   * `zfs send [-i @base] snap` as a stream (not queued: it only reads). The stream ends only after `zfs send` exited
   * 0; a failure destroys it with the mapped {@link StorageError} (so a consumer never takes a cut stream for a whole
   * one). Destroying the stream kills the process. `base` must be a snapshot of the same dataset (older than `snap`).
   */
  sendStream(snapshot: string, options: { base?: string } = {}): Readable {
    const { dataset } = assertSnapshotName(snapshot);
    const args = ['send'];
    if (options.base !== undefined) {
      const base = assertSnapshotName(options.base);
      if (base.dataset !== dataset) throw invalid('the incremental base must be a snapshot of the same dataset', options.base);
      args.push('-i', `@${base.snapshot}`);
    }
    args.push(snapshot);
    this.logger?.debug?.(`${this.zfsBin} ${args.join(' ')}`);
    const out = new PassThrough({ highWaterMark: 1024 * 1024 });
    let proc: StreamingProcess;
    try {
      proc = this.streamSpawner(this.zfsBin, args);
    } catch (e) {
      out.destroy(this.cannotRun(e));
      return out;
    }
    let done = false;
    const stderr = captureText(proc.stderr);
    proc.stdin.on('error', () => undefined);
    proc.stdin.end();
    proc.stdout.on('error', () => undefined);
    proc.stdout.pipe(out, { end: false });
    out.once('close', () => {
      if (done) return;
      proc.stdout.unpipe(out);
      proc.stdout.destroy();
      proc.kill();
    });
    proc.exited.then(
      ({ code, signal }) => {
        done = true;
        if (code === 0) out.end();
        else out.destroy(mapZfsFailure(this.zfsBin, args, { code, signal, stdout: '', stderr: stderr(), timedOut: false }));
      },
      (e: unknown) => {
        done = true;
        out.destroy(this.cannotRun(e));
      },
    );
    return out;
  }

  /**
   * `zfs receive [-F] ds@snap` fed from `input` (not queued: a transfer may take long). When `input` fails or closes
   * before its end, `zfs receive` gets EOF, which makes it discard the partial receive, and this rejects with
   * COMMAND_FAILED (reason `stream`). zfs's own failures are mapped by {@link mapZfsFailure}.
   */
  async receive(snapshot: string, input: Readable, options: { force?: boolean } = {}): Promise<void> {
    input.on('error', () => undefined); // seen by `finished` below, whenever it happens
    assertSnapshotName(snapshot);
    const args = ['receive', ...(options.force ? ['-F'] : []), snapshot];
    this.logger?.debug?.(`${this.zfsBin} ${args.join(' ')}`);
    let proc: StreamingProcess;
    try {
      proc = this.streamSpawner(this.zfsBin, args);
    } catch (e) {
      throw this.cannotRun(e);
    }
    const stderr = captureText(proc.stderr);
    proc.stdout.resume();
    proc.stdout.on('error', () => undefined);
    // EPIPE when zfs exits early (a refused stream): its exit status says why.
    proc.stdin.on('error', () => undefined);
    let inputError: Error | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    const cleanupFinished = finished(input, (e) => {
      if (!e) return;
      inputError = e;
      input.unpipe(proc.stdin);
      // EOF, not a kill: zfs-fuse's daemon reads the pipe itself, and an EOF makes it drop the partial receive.
      proc.stdin.end();
      killTimer = setTimeout(() => {
        proc.stdin.destroy();
        proc.kill();
      }, this.timeoutMs);
      killTimer.unref();
    });
    input.pipe(proc.stdin);
    let result: { code: number | null; signal: NodeJS.Signals | null };
    try {
      result = await proc.exited;
    } catch (e) {
      input.unpipe(proc.stdin);
      input.destroy();
      throw this.cannotRun(e);
    } finally {
      cleanupFinished();
      if (killTimer) clearTimeout(killTimer);
    }
    const mapped = { ...result, stdout: '', stderr: stderr(), timedOut: false };
    // Whatever zfs did not read is of no use now (the caller's stream must not hang half-read).
    if (inputError || result.code !== 0) {
      input.unpipe(proc.stdin);
      input.destroy();
    }
    if (inputError) {
      throw new StorageError(
        StorageErrorCode.COMMAND_FAILED,
        `${this.zfsBin} receive ${snapshot}: the incoming stream failed: ${inputError.message}`,
        {
          reason: 'stream',
          command: [this.zfsBin, ...args].join(' '),
          cause: inputError.message,
          ...(isStorageError(inputError) ? { causeCode: inputError.code } : {}),
          exitCode: result.code,
          stderr: mapped.stderr.slice(0, 1000),
        },
      );
    }
    if (result.code !== 0) throw mapZfsFailure(this.zfsBin, args, mapped);
    // zfs exited 0 before reading everything (it should not): the rest of the input is not ours to leave hanging.
    if (!input.readableEnded) input.destroy();
  }

  /** `zpool list -H -o name,health pool` → e.g. `ONLINE`, `DEGRADED`, `FAULTED`. Missing pool → POOL_UNAVAILABLE. */
  async poolHealth(pool: string): Promise<string> {
    if (!ZFS_POOL_RE.test(pool)) throw invalid('invalid pool name', pool);
    const args = ['list', '-H', '-o', 'name,health', pool];
    const result = await this.run(this.zpoolBin, args, false);
    if (result.code !== 0 || result.timedOut) throw mapZfsFailure(this.zpoolBin, args, result);
    const line = result.stdout.split('\n').find((l) => l.startsWith(`${pool}\t`));
    if (!line) throw new StorageError(StorageErrorCode.POOL_UNAVAILABLE, `pool '${pool}' not listed`, { pool });
    return line.split('\t')[1].trim();
  }

  private cannotRun(e: unknown): StorageError {
    return new StorageError(StorageErrorCode.COMMAND_FAILED, `cannot run ${this.zfsBin}: ${(e as Error).message}`, {
      command: this.zfsBin,
      infrastructure: true,
    });
  }

  private assertTag(tag: string): void {
    if (typeof tag !== 'string' || !ZFS_COMPONENT_RE.test(tag) || tag.length > 64) throw invalid('invalid hold tag', tag);
  }

  private async zfs(args: string[], mutating: boolean): Promise<string> {
    const result = await this.run(this.zfsBin, args, mutating);
    if (result.code !== 0 || result.timedOut) throw mapZfsFailure(this.zfsBin, args, result);
    return result.stdout;
  }

  private async run(bin: string, args: string[], mutating: boolean): Promise<CommandResult> {
    const exec = async (): Promise<CommandResult> => {
      try {
        this.logger?.debug?.(`${bin} ${args.join(' ')}`);
        return await this.runner(bin, args, { timeoutMs: this.timeoutMs });
      } catch (e) {
        throw new StorageError(StorageErrorCode.COMMAND_FAILED, `cannot run ${bin}: ${(e as Error).message}`, {
          command: bin,
          infrastructure: true,
        });
      }
    };
    return mutating ? this.queue.run('mutating', exec) : exec();
  }

  /**
   * Retries `op` while it fails with DATASET_BUSY, doubling the delay up to `maxDelayMs`, for at most `maxMs` in
   * total. The queue is not held while sleeping. A snapshot with user holds fails at once (holds are not transient).
   */
  private async withBusyRetry<T>(name: string, op: () => Promise<T>, enabled: boolean): Promise<T> {
    const started = this.now();
    let delay = this.busy.initialMs;
    let attempts = 0;
    for (;;) {
      try {
        return await op();
      } catch (e) {
        if (!enabled || !isStorageError(e, StorageErrorCode.DATASET_BUSY)) throw e;
        attempts += 1;
        if (name.includes('@')) {
          const refs = await this.userrefs(name).catch(() => 0);
          if (refs > 0) {
            throw new StorageError(StorageErrorCode.DATASET_BUSY, `${name} is held (userrefs=${refs})`, {
              ...e.details,
              reason: 'held',
              userrefs: refs,
            });
          }
        }
        const elapsed = this.now() - started;
        if (elapsed + delay > this.busy.maxMs) {
          throw new StorageError(e.code, `${e.message} (still busy after ${attempts} tries, ${elapsed} ms)`, {
            ...e.details,
            attempts,
            elapsedMs: elapsed,
          });
        }
        if (attempts === 1 || attempts % 10 === 0) {
          this.logger?.warn(`${name} is busy; retrying (try ${attempts}, ${elapsed} ms so far)`);
        }
        await this.sleep(delay);
        delay = Math.min(delay * 2, this.busy.maxDelayMs);
      }
    }
  }
}
