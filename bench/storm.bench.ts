/**
 * Boot-storm benchmark (issue 12): a room switched on at once.
 *
 *   npm run bench:storm -- [--mode qemu|sim|both] [--vms 16] [--memory 32] [--clients 1000] [--concurrency 100]
 *                          [--driver dir|zfs|both] [--runs 1]
 *
 * 1. `qemu`: `--vms` QEMU BIOS e1000 PCs started at the same moment, booting the lab test disk (its boot sector prints
 *    DLS-BOOT-OK) through DLS — the built server with README defaults, like `bench:boot` — and through the reference
 *    stack (dnsmasq + static HTTP script + tgtd with one copy of the disk per MAC, bench/storm-reference.ts) in the
 *    same lab topology. Prints booted count, per-client seconds to the marker, slowest and median, and the ratio
 *    DLS / reference of the slowest (target: all booted, ≤ 1.0). The VMs run at nice 19 (their sessions' autogroups
 *    too), as PCs on their own hardware take no CPU from the server; `STORM_CLIENT_NICE=0` makes them its equals.
 * 2. `sim`: `--clients` simulated PCs against DLS in a lab namespace, `--concurrency` at a time, each with its own
 *    MAC: DORA as a PXE ROM, TFTP of the loader, DORA as iPXE, the boot script over HTTP from the leased address, and
 *    an iSCSI login with the script's CHAP plus an 8 MiB read (bench/storm-client.ts, in a client namespace on the
 *    lab bridge). Prints per-stage p50/p99, served count and total time (target: all served in < 60 s), on the dir
 *    driver (the data dir's filesystem) and/or zfs-fuse (`--driver zfs`).
 *
 * Run as root; it creates namespaces `bm-<pid>-*` and removes them (and every process it started) even when it fails.
 * Takes `/tmp/dls-heavy-tests.lock` (package.json runs it under `flock`) so other QEMU/tgtd work does not run alongside.
 * `KEEP_STORM_WORK=1` keeps the work directory (DLS's and the reference's logs, the QEMU consoles) and prints its path;
 * `STORM_PCAP=1` also captures the QEMU storms' boot traffic there (`boot.pcap` in `vms-dls` and `vms-ref`).
 * `BENCH_DLS_NODE_OPTIONS` is handed to the simulated storm's DLS as NODE_OPTIONS (`--perf-basic-prof`, so
 * `perf record` names its JS frames; Node refuses `--cpu-prof` there).
 */
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { addLabRange, buildDls, DlsInLab, provisionImage, repoRoot, startDlsInLab } from '../test/boot/dls-lab';
import { buildTestDisk } from '../test/lab/disk';
import { createLab, Lab } from '../test/lab/netns';
import { bootClient, QemuClient } from '../test/lab/qemu';
import { createTestPool, destroyTestPool, ensureZfsFuse, releaseZfsFuse, TestPool } from '../test/support/zfs-fuse';
import { ZFS_FUSE_MAX_MOUNTS } from '../src/modules/storage/zfs.driver';
import { median } from './boot-reference';
import { StormJob, StormOutput, STAGES, procCpuMs } from './storm-client';
import { attachClientNamespace, widenLabSubnet } from './storm-net';
import { startPerMacReference } from './storm-reference';

const MiB = 1024 * 1024;
/** The lab test disk (boot sector + label + counter), the size the boot e2e and `bench:boot` use. */
const DISK_BYTES = 8 * MiB;
/** DLS's per-client bulk registration limit (POST /clients/bulk); also keeps each curl argv small. */
const BULK_CHUNK = 200;

interface Args {
  modes: Array<'qemu' | 'sim'>;
  vms: number;
  memoryMb: number;
  clients: number;
  concurrency: number;
  drivers: Array<'dir' | 'zfs'>;
  runs: number;
}

function parseArgs(argv: string[]): Args {
  const get = (flag: string, dflt: string): string => {
    const i = argv.indexOf(flag);
    return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : dflt;
  };
  const int = (flag: string, dflt: number, min: number, max: number): number => {
    const v = Number(get(flag, String(dflt)));
    if (!Number.isInteger(v) || v < min || v > max) throw new Error(`${flag} must be an integer ${min}..${max}`);
    return v;
  };
  const mode = get('--mode', 'both');
  if (!['qemu', 'sim', 'both'].includes(mode)) throw new Error('--mode must be qemu, sim or both');
  const driver = get('--driver', 'dir');
  if (!['dir', 'zfs', 'both'].includes(driver)) throw new Error('--driver must be dir, zfs or both');
  return {
    modes: mode === 'both' ? ['qemu', 'sim'] : [mode as 'qemu' | 'sim'],
    vms: int('--vms', 16, 1, 99),
    memoryMb: int('--memory', 32, 16, 512),
    clients: int('--clients', 1000, 1, 1000),
    concurrency: int('--concurrency', 100, 1, 1000),
    drivers: driver === 'both' ? ['dir', 'zfs'] : [driver as 'dir' | 'zfs'],
    runs: int('--runs', 1, 1, 10),
  };
}

/** `52:54:<a>:<b>:<c>:<d>` for client `i` of a bench (`a` tells the kinds of run apart). */
function macOf(kind: number, i: number): string {
  const hex = (n: number): string => n.toString(16).padStart(2, '0');
  return `52:54:${hex(kind)}:${hex(0xb5)}:${hex((i >> 8) & 0xff)}:${hex(i & 0xff)}`;
}

/** Nearest-rank percentile of a non-empty list. */
function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

const fmtS = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const fmtMs = (ms: number): string => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ')).join('\n');
}

/** Registers `macs` on `imageId` in chunks through the bulk route (one request per chunk). */
/**
 * Registers the room's PCs with the image, then waits until DLS has made their disks ahead of the first boot
 * (DLS_DISKS_AHEAD, where a disk is O(1)): a room is registered once and switched on every morning, and the reference
 * stack made its copies before the storm too. Where disks are full copies nothing is made ahead, and boots make them.
 */
async function registerClients(dls: DlsInLab, macs: string[], imageId: string, prefix: string): Promise<void> {
  const ids = new Set<string>();
  for (let i = 0; i < macs.length; i += BULK_CHUNK) {
    const rows = macs.slice(i, i + BULK_CHUNK).map((mac, j) => ({
      macAddress: mac,
      hostname: `${prefix}-${String(i + j).padStart(4, '0')}`,
      assignedImageId: imageId,
    }));
    const made = await dls.ok<{ items: { id: string }[] }>('POST', '/api/v1/clients/bulk', rows);
    for (const c of made.items) ids.add(c.id);
  }
  type Storage = { cloneMethod: string; clientDisks: { clientId: string }[] };
  const started = Date.now();
  for (;;) {
    const s = await dls.ok<Storage>('GET', '/api/v1/storage');
    if (s.cloneMethod === 'copy') return console.log('client disks are full copies here: none made ahead, each boot makes its own');
    const ready = s.clientDisks.filter((d) => ids.has(d.clientId)).length;
    if (ready >= ids.size)
      return console.log(`${ready} client disks made ahead (${s.cloneMethod}) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    if (Date.now() - started > 600_000) throw new Error(`only ${ready} of ${ids.size} client disks made ahead after 600 s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** DLS's warnings and errors, grouped (MACs, addresses, ids and numbers masked), most frequent first. */
function warningSummary(dls: DlsInLab, top = 8): string {
  const counts = new Map<string, number>();
  for (const line of readFileSync(dls.logFile, 'utf8').split('\n')) {
    const m = /"level":([45]0).*?"msg":"((?:[^"\\]|\\.)*)"/.exec(line);
    if (!m) continue;
    const key = m[2]
      .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<id>')
      .replace(/[0-9a-f]{2}(:[0-9a-f]{2}){5}/g, '<mac>')
      .replace(/\d+\.\d+\.\d+\.\d+/g, '<ip>')
      .replace(/0x[0-9a-f]+|\d+/g, '<n>')
      .slice(0, 150);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, n]) => `  ${String(n).padStart(6)} × ${k}`)
    .join('\n');
}

// --------------------------------------------------------------------------------------------------------------------
// Mode 1: QEMU clients started at once
// --------------------------------------------------------------------------------------------------------------------

interface QemuStormResult {
  stack: 'DLS' | 'reference';
  /** Seconds to DLS-BOOT-OK per client (undefined = not booted), in MAC order. */
  seconds: Array<number | undefined>;
  failures: string[];
  /** DLS only: ms between the boot session's stages, per client. */
  stages?: Record<string, number[]>;
}

/**
 * SeaBIOS/iPXE messages after which a PC never boots without a human (`-no-reboot`, no boot retry): the VM counts as
 * not booted at once instead of at the deadline.
 */
const STUCK = /No bootable device|DLS-SANBOOT-FAILED/;

/** The VM's DLS-BOOT-OK, or a rejection as soon as its console shows it is stuck (or at the deadline). */
async function untilBootedOrStuck(vm: QemuClient, deadlineMs: number): Promise<{ elapsedMs: number }> {
  let stop = false;
  const stuck = (async (): Promise<never> => {
    while (!stop) {
      const text = `${vm.consoleText()}\n${vm.serialText()}`;
      const m = STUCK.exec(text);
      if (m) {
        const why = /Nothing to boot[^\n]*|NAK[^\n]*|Connection timed out[^\n]*|Permission denied[^\n]*/.exec(text)?.[0] ?? '';
        throw new Error(`stuck after ${(vm.elapsedMs() / 1000).toFixed(1)} s: ${m[0]}${why ? ` (${why.trim()})` : ''}`);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error('stopped');
  })();
  try {
    return await Promise.race([vm.waitFor(/DLS-BOOT-OK/, deadlineMs), stuck]);
  } finally {
    stop = true;
    stuck.catch(() => undefined);
  }
}

/**
 * The VMs' niceness (threads and session autogroup): 19 by default, so 16 TCG guests on the bench's cores take CPU the
 * way PCs on their own hardware would — none — from either stack. `STORM_CLIENT_NICE=0` runs them as the servers'
 * equals: with autogroup scheduling each VM's session then gets as much CPU as the whole boot server's session.
 */
const clientNice = (): number | undefined => {
  const v = process.env.STORM_CLIENT_NICE ?? '19';
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 19) throw new Error('STORM_CLIENT_NICE must be 0..19');
  return n === 0 ? undefined : n;
};

/** Starts every VM at once (taps first, then the QEMU processes back to back) and waits for all markers. */
async function bootAll(lab: Lab, macs: string[], memoryMb: number, logDir: string, deadlineMs: number): Promise<Omit<QemuStormResult, 'stack'>> {
  for (const mac of macs) await lab.addTap(mac);
  const vms: QemuClient[] = [];
  // STORM_PCAP=1: the boot traffic on the lab bridge goes to <logDir>/boot.pcap (tcpdump, headers only), for a
  // per-stage timeline of both stacks. Needs KEEP_STORM_WORK to outlive the bench.
  if (process.env.STORM_PCAP) mkdirSync(logDir, { recursive: true });
  const capture = process.env.STORM_PCAP
    ? lab.spawn(['tcpdump', '-i', lab.bridge, '-s', '600', '-U', '-w', join(logDir, 'boot.pcap'), 'udp or tcp'], {
        logFile: join(logDir, 'tcpdump.log'),
      })
    : null;
  if (capture) await new Promise((r) => setTimeout(r, 1000)); // tcpdump's socket is open before the first packet
  try {
    for (const mac of macs) {
      vms.push(await bootClient(lab, { mac, firmware: 'bios', nic: 'e1000', memoryMb, logDir, timeoutMs: deadlineMs + 30_000, nice: clientNice() }));
    }
    const settled = await Promise.allSettled(vms.map((vm) => untilBootedOrStuck(vm, deadlineMs)));
    return {
      seconds: settled.map((s) => (s.status === 'fulfilled' ? s.value.elapsedMs / 1000 : undefined)),
      failures: settled.flatMap((s, i) => (s.status === 'rejected' ? [`${macs[i]}: ${(s.reason as Error).message.split('\n')[0]}`] : [])),
    };
  } finally {
    await Promise.all(vms.map((vm) => vm.kill()));
    if (capture) {
      capture.kill('SIGINT'); // tcpdump writes what it holds and exits
      await Promise.race([capture.exited, new Promise((r) => setTimeout(r, 10_000))]);
    }
  }
}

/**
 * DLS's event-loop delay since the last scrape (prom-client resets its histogram at each collect), from its own
 * /metrics (README default 127.0.0.1:9464, inside the lab namespace): how long a ready socket waited to be served.
 */
async function scrapeLoopLag(lab: Lab): Promise<string> {
  try {
    const text = (await lab.exec(['curl', '-sS', '--max-time', '10', 'http://127.0.0.1:9464/metrics'])).stdout;
    const ms = (name: string): string => {
      const m = new RegExp(`^${name} ([\\d.e+-]+)`, 'm').exec(text);
      return m ? `${(Number(m[1]) * 1000).toFixed(0)} ms` : '?';
    };
    return `lag p50 ${ms('nodejs_eventloop_lag_p50_seconds')}, p99 ${ms('nodejs_eventloop_lag_p99_seconds')}, max ${ms('nodejs_eventloop_lag_max_seconds')}`;
  } catch (err) {
    return `(no /metrics: ${(err as Error).message.split('\n')[0]})`;
  }
}

async function qemuStormDls(n: number, memoryMb: number, diskPath: string, work: string): Promise<QemuStormResult> {
  const lab = await createLab({ name: `bm-${process.pid}-qd` });
  try {
    const dls = await startDlsInLab(lab, { dataDir: join(work, 'dls-data'), logFile: join(work, 'dls.log') });
    try {
      const { imageId } = await provisionImage(dls, 'storm', diskPath, DISK_BYTES);
      await addLabRange(dls, lab, 'storm');
      const macs = Array.from({ length: n }, (_, i) => macOf(0xd1, i));
      await registerClients(dls, macs, imageId, 'qemu');
      await scrapeLoopLag(lab); // resets the lag histogram: the next scrape covers the storm only
      const r = await bootAll(lab, macs, memoryMb, join(work, 'vms-dls'), 600_000);
      console.log(`DLS event loop during the storm: ${await scrapeLoopLag(lab)}`);
      if (r.failures.length) console.log(`DLS warnings:\n${warningSummary(dls)}`);
      return { stack: 'DLS', ...r, stages: await sessionStages(dls) };
    } finally {
      await dls.stop();
    }
  } finally {
    await lab.destroy();
  }
}

async function qemuStormReference(n: number, memoryMb: number, diskPath: string, work: string): Promise<QemuStormResult> {
  const lab = await createLab({ name: `bm-${process.pid}-qr` });
  try {
    const macs = Array.from({ length: n }, (_, i) => macOf(0xd2, i));
    const ref = await startPerMacReference(lab, { diskPath, macs, workDir: join(work, 'ref') });
    try {
      return { stack: 'reference', ...(await bootAll(lab, macs, memoryMb, join(work, 'vms-ref'), 600_000)) };
    } finally {
      await ref.stop();
    }
  } finally {
    await lab.destroy();
  }
}

/** The boot sessions' stage stamps DLS recorded (README: boot sessions), as ms between consecutive stages per client. */
async function sessionStages(dls: DlsInLab): Promise<Record<string, number[]>> {
  type Session = { startedAt: string; stages: Record<string, string | null> };
  const page = await dls.ok<{ items: Session[] }>('GET', '/api/v1/boot-sessions?limit=100');
  const t0 = Math.min(...page.items.map((x) => Date.parse(x.startedAt)));
  const out: Record<string, number[]> = {};
  const add = (k: string, v: number) => (out[k] ??= []).push(v);
  for (const x of page.items) {
    const at = (k: string) => (x.stages[k] ? Date.parse(x.stages[k]) : null);
    let prev = Date.parse(x.startedAt);
    add('first DHCP after the first client', prev - t0);
    for (const k of ['dhcpAt', 'loaderAt', 'scriptAt', 'iscsiLoginAt', 'runningAt']) {
      const t = at(k);
      if (t === null) continue;
      add(`→ ${k}`, t - prev);
      prev = t;
    }
  }
  return out;
}

function printQemu(results: QemuStormResult[], n: number): void {
  const stats = results.map((r) => {
    const ok = r.seconds.filter((s): s is number => s !== undefined);
    return { r, ok, slowest: ok.length ? Math.max(...ok) : NaN, median: ok.length ? median(ok) : NaN };
  });
  const nice = clientNice();
  console.log(
    `\n${n} QEMU BIOS e1000 clients started at once, QEMU start → DLS-BOOT-OK` +
      ` (VMs ${nice === undefined ? "as the servers' equals" : `at nice ${nice}: PCs on their own hardware`}):`,
  );
  const rows = [['stack', 'booted', 'median', 'slowest', 'per client (s)']];
  for (const s of stats) {
    rows.push([
      s.r.stack,
      `${s.ok.length}/${n}`,
      s.ok.length ? `${s.median.toFixed(2)} s` : '-',
      s.ok.length ? `${s.slowest.toFixed(2)} s` : '-',
      s.r.seconds.map((x) => (x === undefined ? 'x' : x.toFixed(1))).join(' '),
    ]);
  }
  console.log(table(rows));
  for (const s of stats) for (const f of s.r.failures) console.log(`  ${s.r.stack} not booted: ${f}`);
  for (const s of stats) {
    if (!s.r.stages) continue;
    const rows2 = [[`${s.r.stack} boot session stages`, 'n', 'median', 'max']];
    for (const [k, v] of Object.entries(s.r.stages)) rows2.push([k, String(v.length), fmtMs(median(v)), fmtMs(Math.max(...v))]);
    console.log(table(rows2));
  }
  const dls = stats.find((s) => s.r.stack === 'DLS');
  const ref = stats.find((s) => s.r.stack === 'reference');
  if (dls && ref && dls.ok.length && ref.ok.length) {
    const ratio = dls.slowest / ref.slowest;
    const allBooted = dls.ok.length === n;
    console.log(
      `slowest DLS/reference = ${ratio.toFixed(2)} (target ≤ 1.0, all booted) ${ratio <= 1 && allBooted ? 'OK' : allBooted ? 'SLOWER' : 'NOT ALL BOOTED'}`,
    );
  }
}

// --------------------------------------------------------------------------------------------------------------------
// Mode 2: simulated storm
// --------------------------------------------------------------------------------------------------------------------

interface SimResult {
  driver: 'dir' | 'zfs';
  clients: number;
  concurrency: number;
  out: StormOutput;
  /** CPU ms of the boot server's side (everything in its namespace) during the storm, per process name. */
  serverCpu: Array<[string, number]>;
}

/**
 * CPU ms used so far by every process in network namespace `ns` (DLS, its PostgreSQL, tgtd, qemu-storage-daemon),
 * with the children they reaped: the boot server's side of the storm, apart from the simulated clients'.
 */
async function namespaceCpuMs(ns: string): Promise<Map<string, number>> {
  const { stdout } = await promisify(execFile)('ip', ['netns', 'pids', ns], { timeout: 10_000 });
  const byName = new Map<string, number>();
  for (const pid of stdout.split('\n').filter((l) => /^\d+$/.test(l.trim()))) {
    const name = (() => {
      try {
        return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      } catch {
        return '?';
      }
    })();
    byName.set(name, (byName.get(name) ?? 0) + procCpuMs(Number(pid)));
  }
  return byName;
}

/** `after - before` per process name, largest first. */
function cpuDelta(before: Map<string, number>, after: Map<string, number>): Array<[string, number]> {
  return [...after].map(([n, ms]): [string, number] => [n, ms - (before.get(n) ?? 0)]).sort((a, b) => b[1] - a[1]);
}

/** Runs bench/storm-client.ts inside `ns` with `job`; resolves with its JSON output. */
function runClients(ns: string, job: StormJob, work: string, timeoutMs: number): Promise<StormOutput> {
  mkdirSync(work, { recursive: true });
  const jobFile = join(work, 'job.json');
  writeFileSync(jobFile, JSON.stringify(job));
  const root = repoRoot();
  return new Promise((resolve, reject) => {
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        ns,
        process.execPath,
        '-r',
        'ts-node/register/transpile-only',
        '-r',
        'tsconfig-paths/register',
        join(root, 'bench', 'storm-client.ts'),
        jobFile,
      ],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`storm clients exited with ${code ?? signal}: ${stderr.slice(-2000)}`));
      try {
        resolve(JSON.parse(stdout.trim().split('\n').pop()!) as StormOutput);
      } catch (err) {
        reject(new Error(`storm clients printed no result: ${(err as Error).message}\n${stderr.slice(-2000)}`));
      }
    });
  });
}

/**
 * zfs-fuse serves at most 1,000 filesystems per daemon and DLS refuses client disks near that (README: 507 past 995);
 * the pool, DLS's datasets and the image take a few, so the zfs storm stops short of the limit.
 */
const ZFS_SIM_MAX_CLIENTS = ZFS_FUSE_MAX_MOUNTS - 20;

async function simStorm(driver: 'dir' | 'zfs', wanted: number, concurrency: number, diskPath: string, work: string): Promise<SimResult> {
  const clients = driver === 'zfs' ? Math.min(wanted, ZFS_SIM_MAX_CLIENTS) : wanted;
  if (clients < wanted) console.log(`zfs-fuse: ${clients} clients instead of ${wanted} (its limit of ${ZFS_FUSE_MAX_MOUNTS} mounts per daemon)`);
  let pool: TestPool | undefined;
  // BENCH_DLS_NODE_OPTIONS (e.g. `--perf-basic-prof`) lets perf name DLS's JS frames during the storm; not DLS config.
  const env: Record<string, string> = process.env.BENCH_DLS_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_DLS_NODE_OPTIONS } : {};
  if (driver === 'zfs') {
    await ensureZfsFuse();
    pool = await createTestPool();
    // DLS runs in the lab namespace through `ip netns exec`, which gives it a copy of the mount table; on a host whose
    // `/` is private, the datasets zfs-fuse mounts afterwards (DLS's own) would never show in that copy. Sharing the
    // pool's mount propagates them (only this bench's pool is touched).
    await promisify(execFile)('mount', ['--make-rshared', pool.mountpoint], { timeout: 10_000 });
    // A zfs install names its driver and the dataset DLS may use (README: configuration).
    env.DLS_STORAGE_DRIVER = 'zfs';
    env.DLS_ZFS_ROOT = `${pool.name}/dls`;
  }
  // A /21 so 1,000 clients fit: the bridge is <subnet>.1/21, the pool the upper /22 (the client namespace owns it).
  const third = 8 * ((process.pid % 28) + 1);
  const lab = await createLab({ name: `bm-${process.pid}-s${driver}`, subnet: `10.216.${third}`, ipv6: false });
  try {
    const net = await widenLabSubnet(lab, 21);
    const poolStart = `10.216.${third + 4}.1`;
    const poolEnd = `10.216.${third + 7}.254`;
    const dls = await startDlsInLab(lab, { dataDir: join(work, `data-${driver}`), logFile: join(work, `dls-${driver}.log`), env });
    try {
      const { imageId } = await provisionImage(dls, 'storm', diskPath, DISK_BYTES);
      await dls.ok('POST', '/api/v1/network-ranges', {
        name: 'storm',
        cidr: net.cidr,
        interface: lab.bridge,
        dhcpMode: 'full',
        poolStart,
        poolEnd,
        leaseSeconds: 600,
      });
      const macs = Array.from({ length: clients }, (_, i) => macOf(0xe0 + (driver === 'zfs' ? 1 : 0), i));
      await registerClients(dls, macs, imageId, 'sim');
      const cli = await attachClientNamespace(lab, {
        name: `bm-${process.pid}-c${driver}`,
        hostIp: `10.216.${third}.2`,
        prefix: 21,
        localPool: `10.216.${third + 4}.0/22`,
      });
      try {
        const cpuBefore = await namespaceCpuMs(lab.ns);
        const out = await runClients(cli.ns, { macs, concurrency, readBytes: DISK_BYTES, clientTimeoutMs: 120_000 }, work, 900_000);
        const serverCpu = cpuDelta(cpuBefore, await namespaceCpuMs(lab.ns));
        const failed = out.results.filter((r) => !r.ok);
        if (failed.length) console.log(`DLS warnings (${driver}):\n${warningSummary(dls)}`);
        // Printed before the teardown: on zfs-fuse, unmounting ~1,000 datasets after the storm can take long.
        const result: SimResult = { driver, clients, concurrency, out, serverCpu };
        printSim(result);
        return result;
      } finally {
        await cli.destroy();
      }
    } finally {
      await dls.stop();
    }
  } finally {
    await lab.destroy();
    // A failed teardown is reported, not thrown: it must not hide the figures measured.
    const made = pool;
    if (made) await destroyTestPool(made).catch((err: Error) => console.error(`could not destroy pool ${made.name}: ${err.message}`));
    if (driver === 'zfs') await releaseZfsFuse().catch((err: Error) => console.error(`zfs-fuse release: ${err.message}`));
  }
}

function printSim(r: SimResult): void {
  const ok = r.out.results.filter((x) => x.ok);
  console.log(`\n${r.clients} simulated clients on the ${r.driver} driver, ${r.concurrency} in flight:`);
  const rows = [['stage', 'n', 'p50', 'p99', 'max']];
  for (const stage of STAGES) {
    const v = r.out.results.map((x) => x.stages[stage]).filter((x): x is number => x !== undefined);
    if (!v.length) rows.push([stage, '0', '-', '-', '-']);
    else rows.push([stage, String(v.length), fmtMs(percentile(v, 50)), fmtMs(percentile(v, 99)), fmtMs(Math.max(...v))]);
  }
  const totals = ok.map((x) => x.totalMs);
  if (totals.length)
    rows.push(['client total', String(totals.length), fmtMs(percentile(totals, 50)), fmtMs(percentile(totals, 99)), fmtMs(Math.max(...totals))]);
  console.log(table(rows));
  const naks = r.out.results.reduce((n, x) => n + (x.naks ?? 0), 0);
  if (naks) console.log(`DHCPNAKs: ${naks} (each sent a client back to DISCOVER), ${r.out.results.filter((x) => x.naks).length} clients hit`);
  const served = ok.length === r.clients;
  console.log(
    `served ${ok.length}/${r.clients} in ${fmtS(r.out.wallMs)} (target: all in < 60 s) ${served && r.out.wallMs < 60_000 ? 'OK' : served ? 'SLOWER' : 'NOT ALL SERVED'}`,
  );
  // Both sides share this host's cores: how much of the wall time was the server's own work.
  const cores = cpus().length;
  const serverMs = r.serverCpu.reduce((n, [, ms]) => n + ms, 0);
  const parts = r.serverCpu
    .filter(([, ms]) => ms >= 500)
    .map(([n, ms]) => `${n} ${fmtS(ms)}`)
    .join(', ');
  console.log(
    `CPU during the storm: boot server side ${fmtS(serverMs)} = ${(serverMs / r.clients).toFixed(1)} ms/client (${parts}); ` +
      `simulated clients (incl. qemu-io) ${fmtS(r.out.cpuMs)}; ${cores} cores × ${fmtS(r.out.wallMs)} wall = ${fmtS(cores * r.out.wallMs)}`,
  );
  const reasons = new Map<string, number>();
  for (const f of r.out.results.filter((x) => !x.ok)) {
    const key = (f.error ?? '?')
      .replace(/[0-9a-f]{2}(:[0-9a-f]{2}){5}/g, '<mac>')
      .replace(/\d+\.\d+\.\d+\.\d+/g, '<ip>')
      .slice(0, 160);
    reasons.set(key, (reasons.get(key) ?? 0) + 1);
  }
  for (const [why, count] of reasons) console.log(`  ${count} failed: ${why}`);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  await buildDls();
  const work = mkdtempSync(join(tmpdir(), 'dls-bench-storm-'));
  const cleanup = (): void => {
    if (process.env.KEEP_STORM_WORK) console.log(`kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  };
  process.on('exit', cleanup);
  const diskPath = join(work, 'disk.img');
  await buildTestDisk(diskPath, { label: 'bench-storm', counter: 0, sizeBytes: DISK_BYTES });
  for (let run = 1; run <= args.runs; run++) {
    if (args.runs > 1) console.log(`\n=== run ${run}/${args.runs} ===`);
    if (args.modes.includes('qemu')) {
      const results: QemuStormResult[] = [];
      const refDisk = join(work, `disk-ref.img`);
      copyFileSync(diskPath, refDisk);
      results.push(await qemuStormDls(args.vms, args.memoryMb, diskPath, join(work, `q${run}`)));
      results.push(await qemuStormReference(args.vms, args.memoryMb, refDisk, join(work, `q${run}`)));
      printQemu(results, args.vms);
    }
    if (args.modes.includes('sim')) {
      for (const driver of args.drivers) await simStorm(driver, args.clients, args.concurrency, diskPath, join(work, `s${run}`));
    }
  }
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err instanceof Error ? (err.stack ?? err.message) : err);
      process.exit(1);
    },
  );
}
