/**
 * zfs-fuse helpers for integration tests and benchmarks.
 *
 * There is one zfs-fuse daemon per host (socket `/var/run/zfs/zfs_socket`). `ensureZfsFuse()` starts one only when
 * none answers, records that a DLS test helper started it, and registers this process as a user;
 * `releaseZfsFuse()` stops it again only if a helper started it, no other helper user is alive and no pool is left.
 * Test pools live on sparse files in a temp dir, are mounted under that dir (never under `/`), and carry the pid in
 * their name, so parallel workers never collide and pools of dead workers can be recognised and removed.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { openSync, closeSync, promises as fsp, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CommandResult, spawnCommand } from '../../src/common/exec/command-runner';

const RUN_DIR = '/run/dls-test-zfs-fuse';
const USERS_DIR = path.join(RUN_DIR, 'users');
const DAEMON_PID_FILE = path.join(RUN_DIR, 'daemon.pid');
/** The test run (jest's pid, `DLS_TEST_RUN_ID` from the global setup) whose helper started the daemon. */
const DAEMON_RUN_FILE = path.join(RUN_DIR, 'daemon.run');
const START_LOCK = path.join(RUN_DIR, 'start.lock');
const POOL_PREFIX = 'dlst';
// dlst<pid of the creating process>x<random>: jest gives each suite a fresh module (a counter would restart at 0), and a
// suite of the same worker must never meet a pool name an earlier suite's slow teardown still holds.
const POOL_RE = new RegExp(`^${POOL_PREFIX}(\\d+)x[0-9a-f]+$`);

/** A pool made by {@link createTestPool}. */
export interface TestPool {
  name: string;
  /** Temp directory holding the vdev file and the mountpoint. */
  dir: string;
  file: string;
  /** Mountpoint of the pool's root dataset. */
  mountpoint: string;
}

async function run(file: string, args: string[], timeoutMs = 30_000): Promise<CommandResult> {
  return spawnCommand(file, args, { timeoutMs });
}

async function must(file: string, args: string[], timeoutMs = 30_000): Promise<string> {
  const r = await run(file, args, timeoutMs);
  if (r.code !== 0) throw new Error(`${file} ${args.join(' ')} failed (${r.code ?? r.signal}): ${r.stderr.trim()}`);
  return r.stdout;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function isZfsFuse(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'zfs-fuse';
  } catch {
    return false;
  }
}

/** Polls `check` every `intervalMs` until it returns true or `timeoutMs` elapses. */
export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string, intervalMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

async function daemonAnswers(): Promise<boolean> {
  const r = await run('zpool', ['list', '-H', '-o', 'name'], 5_000);
  return r.code === 0;
}

async function withStartLock<T>(fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const fd = openSync(START_LOCK, 'wx');
      await fsp.writeFile(START_LOCK, String(process.pid));
      closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = Number(await fsp.readFile(START_LOCK, 'utf8').catch(() => '0'));
      if (!owner || !alive(owner)) await fsp.rm(START_LOCK, { force: true });
      else if (Date.now() > deadline) throw new Error('timed out waiting for the zfs-fuse start lock', { cause: e });
      else await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await fn();
  } finally {
    await fsp.rm(START_LOCK, { force: true });
  }
}

/**
 * Makes sure a zfs-fuse daemon answers (starting `zfs-fuse --no-daemon --no-kstat-mount` if needed) and that all
 * datasets are mounted (zfs-fuse mounts nothing at start).
 */
export async function ensureZfsFuse(): Promise<void> {
  await fsp.mkdir(USERS_DIR, { recursive: true });
  await fsp.writeFile(path.join(USERS_DIR, String(process.pid)), '');
  if (!(await daemonAnswers())) {
    await withStartLock(async () => {
      if (await daemonAnswers()) return;
      const logFile = path.join(os.tmpdir(), `dls-zfs-fuse-${process.pid}.log`);
      const log = openSync(logFile, 'a');
      const child = spawn('zfs-fuse', ['--no-daemon', '--no-kstat-mount'], {
        detached: true,
        stdio: ['ignore', log, log],
      });
      closeSync(log);
      let exited: string | undefined;
      child.once('exit', (code, signal) => (exited = `exited (${code ?? signal})`));
      child.once('error', (e) => (exited = e.message));
      child.unref();
      if (child.pid === undefined) throw new Error('could not start zfs-fuse');
      await fsp.writeFile(DAEMON_PID_FILE, String(child.pid));
      await fsp.writeFile(DAEMON_RUN_FILE, process.env.DLS_TEST_RUN_ID ?? '');
      await waitFor(
        async () => {
          if (exited) throw new Error(`zfs-fuse ${exited}: ${await fsp.readFile(logFile, 'utf8').catch(() => '')}`);
          return daemonAnswers();
        },
        15_000,
        'zfs-fuse to answer',
      );
    });
  }
  // Another suite may be tearing its pool down right now (an unmount still settling in FUSE): busy is retried.
  await waitFor(
    async () => {
      const r = await run('zfs', ['mount', '-a'], 60_000);
      if (r.code === 0) return true;
      if (/busy/.test(r.stderr)) return false;
      // Another suite's dataset that can't be mounted (its test may make one on purpose) is not this suite's
      // concern: its own pool is created, and mounted, after this.
      console.warn(`zfs mount -a failed (${r.code ?? r.signal}), going on: ${r.stderr.trim()}`);
      return true;
    },
    60_000,
    'zfs mount -a',
    250,
  );
}

/**
 * Unregisters this process; stops the daemon only if a DLS test helper started it, no other registered process is
 * alive and no pool remains (graceful: `zfs umount -a`, SIGTERM, bounded wait, then SIGKILL).
 */
export async function releaseZfsFuse(): Promise<void> {
  await fsp.rm(path.join(USERS_DIR, String(process.pid)), { force: true });
  const pid = Number(await fsp.readFile(DAEMON_PID_FILE, 'utf8').catch(() => '0'));
  if (!pid || !alive(pid) || !isZfsFuse(pid)) return;
  const users = await fsp.readdir(USERS_DIR).catch(() => [] as string[]);
  if (users.some((u) => Number(u) !== process.pid && alive(Number(u)))) return;
  const pools = (await run('zpool', ['list', '-H', '-o', 'name'], 5_000)).stdout.trim();
  if (pools !== '') return;
  await stopDaemon(pid);
}

async function stopDaemon(pid: number): Promise<void> {
  await run('zfs', ['umount', '-a'], 30_000);
  process.kill(pid, 'SIGTERM');
  try {
    await waitFor(() => !alive(pid), 10_000, 'zfs-fuse to exit', 200);
  } catch {
    process.kill(pid, 'SIGKILL');
    await waitFor(() => !alive(pid), 10_000, 'zfs-fuse to die', 200);
  }
  await fsp.rm(DAEMON_PID_FILE, { force: true });
  await fsp.rm(DAEMON_RUN_FILE, { force: true });
}

function parentOf(pid: number): number {
  try {
    return Number(/^PPid:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/**
 * For the global teardown of test run `runId` (the jest process, whose workers have all finished their suites): if
 * a helper of this run started the zfs-fuse daemon, stops it by its pid — after destroying pools this run's workers
 * left — unless a process outside this run still uses it (a registered live process or one of its pools).
 * Returns what it did, for the log.
 */
export async function stopZfsFuseStartedBy(runId: string): Promise<string> {
  const pid = Number(await fsp.readFile(DAEMON_PID_FILE, 'utf8').catch(() => '0'));
  const startedBy = await fsp.readFile(DAEMON_RUN_FILE, 'utf8').catch(() => '');
  if (!pid || startedBy !== runId) return 'no zfs-fuse started by this run';
  if (!alive(pid) || !isZfsFuse(pid)) {
    await fsp.rm(DAEMON_PID_FILE, { force: true });
    await fsp.rm(DAEMON_RUN_FILE, { force: true });
    return 'zfs-fuse started by this run had already exited';
  }
  const ours = (p: number) => p === Number(runId) || parentOf(p) === Number(runId) || !alive(p);
  const users = (await fsp.readdir(USERS_DIR).catch(() => [] as string[])).map(Number);
  for (const u of users.filter(ours)) await fsp.rm(path.join(USERS_DIR, String(u)), { force: true });
  const others = users.filter((u) => !ours(u));
  if (others.length) return `zfs-fuse ${pid} left running: still used by pid ${others.join(', ')}`;
  const pools = (await run('zpool', ['list', '-H', '-o', 'name'], 10_000)).stdout.split('\n').filter(Boolean);
  for (const name of pools) {
    const m = POOL_RE.exec(name);
    if (m && ours(Number(m[1]))) await destroyTestPool(name);
  }
  const left = (await run('zpool', ['list', '-H', '-o', 'name'], 10_000)).stdout.trim();
  if (left) return `zfs-fuse ${pid} left running: it holds pools ${left.split('\n').join(', ')}`;
  await stopDaemon(pid);
  return `stopped zfs-fuse ${pid}, started by this run`;
}

/** Destroys pools of this helper whose creating process is gone (left by a crashed run). */
async function removeStalePools(): Promise<void> {
  const names = (await run('zpool', ['list', '-H', '-o', 'name'], 10_000)).stdout.split('\n').filter(Boolean);
  for (const name of names) {
    const m = POOL_RE.exec(name);
    if (m && Number(m[1]) !== process.pid && !alive(Number(m[1]))) {
      await destroyTestPool(name).catch(() => undefined);
    }
  }
}

/** Creates a pool (default 4 GiB) on a sparse file in a fresh temp dir, mounted under it, with compression off. */
export async function createTestPool(options: { sizeBytes?: number } = {}): Promise<TestPool> {
  await removeStalePools();
  const name = `${POOL_PREFIX}${process.pid}x${randomBytes(4).toString('hex')}`;
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), `dls-zpool-${name}-`));
  const file = path.join(dir, 'pool.img');
  const mountpoint = path.join(dir, 'mnt');
  const fh = await fsp.open(file, 'w');
  await fh.truncate(options.sizeBytes ?? 4 * 1024 ** 3);
  await fh.close();
  // The pool's datasets are mounted under a shared mount. With the host's private propagation, every `ip netns exec`
  // another suite starts (a DLS or QEMU in a lab namespace) takes a private copy of the mounts that exist at that
  // moment, this pool's datasets included, and keeps it until it exits: zfs-fuse then calls the dataset "busy" at
  // destroy for as long as that process lives (56–177 s in CI, with boot suites alongside). Shared, an unmount here
  // propagates into those copies too.
  await must('mount', ['--bind', dir, dir]);
  try {
    await must('mount', ['--make-rshared', dir]);
    // stderr always says "Defaulting to 4K blocksize (ashift=12)" even on success.
    await must('zpool', ['create', '-f', '-m', mountpoint, name, file]);
    await must('zfs', ['set', 'compression=off', name]);
  } catch (e) {
    await run('umount', ['-l', dir]);
    throw e;
  }
  return { name, dir, file, mountpoint };
}

/** Unmounts the pool's datasets (deepest first), `zpool destroy -f` (retried while busy), removes the temp dir. */
export async function destroyTestPool(pool: TestPool | string): Promise<void> {
  const name = typeof pool === 'string' ? pool : pool.name;
  if (!POOL_RE.test(name)) throw new Error(`refusing to destroy non-test pool ${name}`);
  // Each attempt unmounts again: a concurrent `zfs mount -a` (another suite, or a DLS app starting its zfs driver)
  // mounts every pool's datasets, this one's included.
  // zfs-fuse is one userspace process: on two busy cores an unmount can stay "busy" for minutes, so the deadline is
  // for a hang, and the error says what zpool last answered.
  let last = '';
  await waitFor(
    async () => {
      await unmountAll(name);
      const r = await run('zpool', ['destroy', '-f', name], 60_000);
      last = r.stderr.trim();
      return r.code === 0 || /no such pool/.test(r.stderr);
    },
    300_000,
    `zpool destroy ${name}`,
    250,
  ).catch((e: Error) => {
    throw new Error(`${e.message}; zpool said: ${last}`);
  });
  if (typeof pool !== 'string') {
    await run('umount', ['-l', pool.dir], 30_000); // the shared bind mount made by createTestPool
    await fsp.rm(pool.dir, { recursive: true, force: true });
  }
}

/** Unmounts the pool's mounted datasets, deepest first (failures are retried by the caller). */
async function unmountAll(name: string): Promise<void> {
  const mounted = await run('zfs', ['get', '-H', '-r', '-o', 'name,value', 'mounted', name], 60_000);
  const datasets = mounted.stdout
    .split('\n')
    .map((l) => l.split('\t'))
    .filter(([n, v]) => n && v === 'yes')
    .map(([n]) => n)
    .sort((a, b) => b.split('/').length - a.split('/').length);
  for (const ds of datasets) await run('zfs', ['umount', ds], 30_000);
}
