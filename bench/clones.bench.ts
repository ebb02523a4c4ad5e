/**
 * Client-disk provisioning benchmark for the storage drivers.
 *
 *   npx ts-node bench/clones.bench.ts [--driver zfs|dir|both] [--sizes 10,100,1000] [--concurrency 8] [--dir-root /abs]
 *                                      [--dir-fs xfs|plain] [--clone auto|reflink|overlay|copy]
 *
 * Per driver: a 1 GiB image (sparse, with 64 MiB of random data spread over it so copies cost something), one
 * version, then rounds that provision N client disks (N = 10, 100, 1,000; bounded concurrency) and destroy them
 * again. Prints ms per disk for each N and the ratio (ms/disk at the largest N) / (ms/disk at the smallest N).
 * Targets: ratio <= 2, and 1,000 zfs-fuse disks in < 60 s.
 *
 * zfs: a pool on a sparse file (zfs-fuse started if needed, via test/support/zfs-fuse). dir: with `--dir-fs xfs` (the
 * default) an xfs loop mount made with `mkfs.xfs -m reflink=1` when mkfs.xfs exists (reflinks), else a temp dir;
 * `--dir-fs plain` (or `--dir-root`) a temp dir on the host's filesystem (ext4 here: no reflink, so the default
 * `--clone auto` makes qcow2 overlays served by qemu-storage-daemon; `--clone copy` full copies, rounds whose copies
 * would exceed 2 GiB skipped). Overlay rounds also print the daemon's RSS and fds at the largest N. Everything the
 * benchmark creates is removed at the end.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DirCloneSetting, DirStorageDriver } from '../src/modules/storage/dir.driver';
import { QemuImgAdapter } from '../src/modules/storage/qemu-img.adapter';
import { StorageDriver } from '../src/modules/storage/storage-driver';
import { ZfsAdapter } from '../src/modules/storage/zfs.adapter';
import { ZFS_FUSE_MAX_MOUNTS, ZfsStorageDriver } from '../src/modules/storage/zfs.driver';
import { createTestPool, destroyTestPool, ensureZfsFuse, releaseZfsFuse } from '../test/support/zfs-fuse';

const MiB = 1024 * 1024;
const IMAGE_BYTES = 1024 * MiB;
const DATA_BYTES = 64 * MiB;
const COPY_BUDGET_BYTES = 2 * 1024 * MiB;

interface Args {
  drivers: Array<'zfs' | 'dir'>;
  sizes: number[];
  concurrency: number;
  dirRoot?: string;
  dirFs: 'xfs' | 'plain';
  clone: DirCloneSetting;
}

interface Row {
  driver: string;
  method: string;
  n: number;
  provisionMs: number;
  destroyMs: number;
}

function parseArgs(argv: string[]): Args {
  const get = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const driver = get('--driver') ?? 'both';
  if (!['zfs', 'dir', 'both'].includes(driver)) throw new Error('--driver must be zfs, dir or both');
  const sizes = (get('--sizes') ?? '10,100,1000').split(',').map((s) => Number(s));
  if (sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--sizes must be positive integers');
  return {
    drivers: driver === 'both' ? ['zfs', 'dir'] : [driver as 'zfs' | 'dir'],
    sizes,
    concurrency: Number(get('--concurrency') ?? 8),
    dirRoot: get('--dir-root'),
    dirFs: get('--dir-fs') === 'plain' ? 'plain' : 'xfs',
    clone: (get('--clone') ?? 'auto') as DirCloneSetting,
  };
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++];
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

async function makeImage(driver: StorageDriver): Promise<{ imageId: string; versionId: string }> {
  const imageId = randomUUID();
  const versionId = randomUUID();
  const disk = await driver.ensureImage(imageId);
  await new QemuImgAdapter().createBlank(disk, IMAGE_BYTES);
  const fh = await fsp.open(disk, 'r+');
  try {
    const chunks = DATA_BYTES / MiB;
    const stride = IMAGE_BYTES / chunks;
    for (let i = 0; i < chunks; i++) await fh.write(randomBytes(MiB), 0, MiB, i * stride);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await driver.createVersion(imageId, versionId);
  return { imageId, versionId };
}

async function fuseZfsMounts(): Promise<number> {
  const text = await fsp.readFile('/proc/self/mounts', 'utf8');
  return text.split('\n').filter((l) => l.split(' ')[2] === 'fuse.zfs').length;
}

async function runRounds(name: string, driver: StorageDriver, args: Args, rows: Row[]): Promise<void> {
  const { imageId, versionId } = await makeImage(driver);
  const method = (await driver.status()).cloneMethod;
  try {
    for (const requested of args.sizes) {
      let n = requested;
      if (name === 'zfs') {
        // zfs-fuse mounts at most 1,000 filesystems per daemon; every clone is one (plus pool, containers, image).
        const room = ZFS_FUSE_MAX_MOUNTS - (await fuseZfsMounts()) - 5;
        if (n > room) {
          console.log(`[zfs] N=${requested} exceeds zfs-fuse's ${ZFS_FUSE_MAX_MOUNTS}-mount limit; using N=${room}`);
          n = room;
        }
      }
      if (method === 'copy' && n * DATA_BYTES > COPY_BUDGET_BYTES) {
        console.log(`[${name}] skipping N=${n}: full copies would write ${(n * DATA_BYTES) / MiB} MiB`);
        continue;
      }
      const clients = Array.from({ length: n }, () => randomUUID());
      let t = process.hrtime.bigint();
      let done = 0;
      try {
        await pool(clients, args.concurrency, async (c) => {
          await driver.ensureClientDisk(c, imageId, versionId);
          done += 1;
        });
      } catch (e) {
        console.log(`[${name}] N=${n} failed after ${done} disks: ${(e as Error).message.slice(0, 500)}`);
        await pool(clients, args.concurrency, (c) => driver.destroyClientDisk(c));
        continue;
      }
      const provisionMs = Number(process.hrtime.bigint() - t) / 1e6;
      const daemonPid = (driver as unknown as { daemon?: { daemonPid?: number } }).daemon?.daemonPid;
      if (method === 'overlay' && daemonPid && n === Math.max(...args.sizes)) {
        const rss = /VmRSS:\s+(\d+)/.exec(await fsp.readFile(`/proc/${daemonPid}/status`, 'utf8'))?.[1];
        const fds = (await fsp.readdir(`/proc/${daemonPid}/fd`)).length;
        console.log(`[${name}] qemu-storage-daemon with ${n} exports: RSS ${(Number(rss) / 1024).toFixed(0)} MiB, ${fds} fds`);
      }
      t = process.hrtime.bigint();
      await pool(clients, args.concurrency, (c) => driver.destroyClientDisk(c));
      const destroyMs = Number(process.hrtime.bigint() - t) / 1e6;
      rows.push({ driver: name, method, n, provisionMs, destroyMs });
      console.log(
        `[${name}] N=${n}: provision ${provisionMs.toFixed(0)} ms (${(provisionMs / n).toFixed(2)} ms/disk), ` +
          `destroy ${destroyMs.toFixed(0)} ms (${(destroyMs / n).toFixed(2)} ms/disk)`,
      );
    }
  } finally {
    await driver.destroyVersion(imageId, versionId);
    await driver.destroyImage(imageId);
  }
}

async function benchZfs(args: Args, rows: Row[]): Promise<void> {
  await ensureZfsFuse();
  const testPool = await createTestPool({ sizeBytes: 8 * 1024 ** 3 });
  try {
    const adapter = new ZfsAdapter({ busyRetry: { maxMs: 180_000, initialMs: 50 } });
    const driver = new ZfsStorageDriver(adapter, {
      root: `${testPool.name}/dls`,
      imageDatasetProps: { compression: 'off' },
      mountLimit: ZFS_FUSE_MAX_MOUNTS - 2,
    });
    await driver.init();
    await runRounds('zfs', driver, args, rows);
  } finally {
    await destroyTestPool(testPool);
    await releaseZfsFuse();
  }
}

async function benchDir(args: Args, rows: Row[]): Promise<void> {
  if (args.dirRoot) {
    const root = path.join(args.dirRoot, `dls-bench-${process.pid}`);
    try {
      const driver = new DirStorageDriver({ root, clone: args.clone });
      await driver.init();
      try {
        await runRounds('dir', driver, args, rows);
      } finally {
        await driver.close();
      }
    } finally {
      await fsp.rm(root, { recursive: true, force: true });
    }
    return;
  }
  if (args.dirFs === 'plain') {
    const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'dls-bench-dir-'));
    try {
      const driver = new DirStorageDriver({ root: tmp, clone: args.clone });
      await driver.init();
      try {
        await runRounds('dir', driver, args, rows);
      } finally {
        await driver.close();
      }
    } finally {
      await fsp.rm(tmp, { recursive: true, force: true });
    }
    return;
  }
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'dls-bench-dir-'));
  const mnt = path.join(tmp, 'mnt');
  let mounted = false;
  try {
    await fsp.mkdir(mnt);
    let root = path.join(tmp, 'plain');
    try {
      const img = path.join(tmp, 'xfs.img');
      const fh = await fsp.open(img, 'w');
      await fh.truncate(8 * 1024 ** 3);
      await fh.close();
      execFileSync('mkfs.xfs', ['-q', '-m', 'reflink=1', img], { timeout: 60_000 });
      execFileSync('mount', ['-o', 'loop', img, mnt], { timeout: 60_000 });
      mounted = true;
      root = path.join(mnt, 'dls');
    } catch (e) {
      console.log(`[dir] no xfs loop mount (${(e as Error).message.split('\n')[0]}); using ${root}`);
    }
    const driver = new DirStorageDriver({ root, clone: args.clone });
    await driver.init();
    try {
      await runRounds('dir', driver, args, rows);
    } finally {
      await driver.close();
    }
  } finally {
    if (mounted) execFileSync('umount', [mnt], { timeout: 60_000 });
    await fsp.rm(tmp, { recursive: true, force: true });
  }
}

function printTable(rows: Row[]): void {
  const header = ['driver', 'method', 'N', 'provision ms', 'ms/disk', 'destroy ms', 'ms/destroy'];
  const lines = rows.map((r) => [
    r.driver,
    r.method,
    String(r.n),
    r.provisionMs.toFixed(0),
    (r.provisionMs / r.n).toFixed(2),
    r.destroyMs.toFixed(0),
    (r.destroyMs / r.n).toFixed(2),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cols: string[]): string => cols.map((c, i) => c.padStart(widths[i])).join('  ');
  console.log('');
  console.log(fmt(header));
  for (const l of lines) console.log(fmt(l));
  console.log('');
  for (const driver of [...new Set(rows.map((r) => r.driver))]) {
    const mine = rows.filter((r) => r.driver === driver).sort((a, b) => a.n - b.n);
    if (mine.length < 2) continue;
    const first = mine[0];
    const last = mine[mine.length - 1];
    const ratio = last.provisionMs / last.n / (first.provisionMs / first.n);
    console.log(
      `${driver}: ratio ms/disk N=${last.n} / N=${first.n} = ${ratio.toFixed(2)} (target <= 2)` +
        (last.n >= 1000 ? `; ${last.n} disks in ${(last.provisionMs / 1000).toFixed(1)} s (target < 60 s)` : ''),
    );
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const rows: Row[] = [];
  for (const d of args.drivers) {
    if (d === 'zfs') await benchZfs(args, rows);
    else await benchDir(args, rows);
  }
  printTable(rows);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
