/**
 * The dir driver's overlay client disks on a plain filesystem (ext4 here: no reflink), end to end: a real
 * qemu-storage-daemon with FUSE exports, a real tgtd exporting the client's disk.raw and real initiators (qemu-io's
 * iSCSI driver). Run under `flock /tmp/dls-heavy-tests.lock` (QEMU, tgtd).
 */
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { DirStorageDriver } from '../../src/modules/storage/dir.driver';
import { FuseExportDaemon, fuseMountpoints } from '../../src/modules/storage/fuse-export.daemon';
import { StorageErrorCode } from '../../src/modules/storage/storage.errors';
import { TgtAdmAdapter } from '../../src/modules/iscsi/tgt.adapter';
import { ExportSpec, TgtExporter } from '../../src/modules/iscsi/tgt-exporter';
import { TgtdSupervisor } from '../../src/modules/iscsi/tgtd.supervisor';
import { LOOPBACK, Login, pickControlPort, pickPortalPort, qemuIo, waitFor } from '../iscsi/iscsi-test-helpers';
import { MiB, expectBytes, readAt, storageErrorOf, writeAt } from './storage-contract';

jest.setTimeout(180_000);

const GiB = 1024 * MiB;
const PREFIX = 'iqn.2025-01.lab.dls.e2e-overlay:';

async function ourMounts(root: string): Promise<string[]> {
  return fuseMountpoints(await fsp.readFile('/proc/self/mounts', 'utf8')).filter((m) => m.startsWith(`${root}/`));
}

async function pidAlive(pid: number): Promise<boolean> {
  const stat = await fsp.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat !== '' && !/^\d+ \(.*\) [ZX]/.test(stat);
}

/** Live qemu-storage-daemon processes whose command line names a path under `dir`. */
async function daemonsUnder(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await fsp.readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const argv = await fsp.readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    if (argv.startsWith('qemu-storage-daemon') && argv.includes(`${dir}/`) && (await pidAlive(Number(name)))) pids.push(Number(name));
  }
  return pids;
}

function daemonOf(driver: DirStorageDriver): FuseExportDaemon {
  return (driver as unknown as { daemon: FuseExportDaemon }).daemon;
}

describe('DirStorageDriver overlays (qemu-storage-daemon + FUSE + tgtd)', () => {
  let root: string;
  let driver: DirStorageDriver;
  const imageId = randomUUID();
  const versionId = randomUUID();
  const data = randomBytes(MiB);

  beforeAll(async () => {
    root = await fsp.mkdtemp(path.join(os.tmpdir(), 'dls-overlay-'));
    driver = new DirStorageDriver({ root }); // the default (auto): overlays on this reflink-less filesystem
    await driver.init();
    // A 2 GiB version holding 1 MiB of data at 1 GiB.
    const disk = await driver.ensureImage(imageId);
    const fh = await fsp.open(disk, 'w');
    await fh.truncate(2 * GiB);
    await fh.write(data, 0, MiB, GiB);
    await fh.close();
    await driver.createVersion(imageId, versionId);
  });

  afterAll(async () => {
    await driver?.close();
    if (root) {
      for (const m of await ourMounts(root)) await fsp.rm(m).catch(() => undefined);
      await fsp.rm(root, { recursive: true, force: true });
    }
  });

  it('makes a client disk in O(1): an overlay of a few hundred KiB over a 2 GiB version, reading as the version', async () => {
    expect((await driver.status()).cloneMethod).toBe('overlay');
    const d = await driver.ensureClientDisk(randomUUID(), imageId, versionId);
    expect(d.sizeBytes).toBe(2 * GiB);
    expect(d.writtenBytes).toBeLessThan(MiB);
    const overlay = path.join(root, 'clients', d.clientId, 'overlay.qcow2');
    expect((await fsp.stat(overlay)).blocks * 512).toBeLessThan(MiB);
    expect((await fsp.stat(d.path)).size).toBe(2 * GiB); // the FUSE view, not the empty mountpoint file
    expectBytes(await readAt(d.path, GiB, MiB), data);
    expect(await ourMounts(root)).toEqual([d.path]);
    await driver.destroyClientDisk(d.clientId);
    expect(await ourMounts(root)).toEqual([]);
    expect(await fsp.readdir(path.join(root, 'clients'))).toEqual([]);
  });

  it('starts the daemon with the FUSE bounce buffers kept in the heap', async () => {
    const d = await driver.ensureClientDisk(randomUUID(), imageId, versionId);
    try {
      await expectHeapBuffers(d.path);
    } finally {
      await driver.destroyClientDisk(d.clientId);
    }
  });

  async function expectHeapBuffers(diskPath: string): Promise<void> {
    const pid = daemonOf(driver).daemonPid!;
    // The FUSE export allocates a bounce buffer per request; glibc's defaults handed each one fresh pages under load
    // (bench:storm: 2/3 of the daemon's CPU). The daemon runs with them kept in the heap.
    const environ = (await fsp.readFile(`/proc/${pid}/environ`, 'utf8')).split('\0');
    // glibc rewrites the variable in place as it parses it: the start is what stays readable.
    expect(environ.some((e) => e.startsWith('GLIBC_TUNABLES=glibc.malloc.mmap_threshold=8388608'))).toBe(true);
    const args = [`if=${diskPath}`, 'of=/dev/null', 'bs=256k', `skip=${GiB / (256 * 1024)}`, 'count=4', 'iflag=direct'];
    const { stderr } = await promisify(execFile)('dd', args);
    const read = Number(/^(\d+) bytes/m.exec(stderr)?.[1]);
    expect(read).toBe(MiB); // an O_DIRECT read through the export
  }

  it('serves an overlay over a received version (raw stream, written sparsely)', async () => {
    const copyImage = randomUUID();
    const copyVersion = randomUUID();
    const out = await driver.sendVersion(imageId, versionId);
    const info = await driver.receiveVersion(copyImage, copyVersion, {
      format: out.format,
      baseVersionId: null,
      sizeBytes: out.sizeBytes,
      stream: out.stream,
    });
    expect((await fsp.stat(info.ref)).blocks * 512).toBeLessThan(4 * MiB); // 1 MiB of data in 2 GiB
    const d = await driver.ensureClientDisk(randomUUID(), copyImage, copyVersion);
    expect(d.sizeBytes).toBe(2 * GiB);
    expect((await fsp.stat(path.join(root, 'clients', d.clientId, 'overlay.qcow2'))).isFile()).toBe(true);
    expectBytes(await readAt(d.path, GiB, MiB), data);
    await writeAt(d.path, GiB, Buffer.alloc(MiB, 0x5c));
    expectBytes(await readAt(info.ref, GiB, MiB), data);
    expect((await storageErrorOf(driver.destroyVersion(copyImage, copyVersion))).code).toBe(StorageErrorCode.HAS_DEPENDENTS);
    await driver.destroyClientDisk(d.clientId);
    await driver.destroyVersion(copyImage, copyVersion);
    await driver.destroyImage(copyImage);
  });

  describe('through iSCSI', () => {
    let supervisor: TgtdSupervisor;
    let exporter: TgtExporter;
    let port: number;
    let tid = 0;

    let adapter: TgtAdmAdapter;

    beforeAll(async () => {
      port = await pickPortalPort(31);
      const controlPort = pickControlPort(31);
      adapter = new TgtAdmAdapter({ controlPort, timeoutMs: 10_000 });
      supervisor = new TgtdSupervisor({ controlPort, portal: { address: LOOPBACK, port }, adapter });
      await supervisor.start();
      exporter = new TgtExporter({ adapter });
    });

    afterAll(async () => {
      await supervisor?.stop();
    });

    async function exportDisk(diskPath: string): Promise<{ spec: ExportSpec; login: Login }> {
      tid += 1;
      const spec: ExportSpec = {
        tid,
        iqn: `${PREFIX}pc${tid}`,
        backingPath: diskPath,
        chapUser: `ov-pc${tid}`,
        chapSecret: `S3cretPass0${tid}`,
        initiatorName: `${PREFIX}client${tid}`,
        serial: `DLS-OV-${tid}`,
      };
      await exporter.ensureExport(spec);
      return { spec, login: { port, iqn: spec.iqn, user: spec.chapUser, secret: spec.chapSecret, initiator: spec.initiatorName } };
    }

    it('lands writes in the client overlay, never in the version; two clients are isolated; commit makes a version of them', async () => {
      const a = await driver.ensureClientDisk(randomUUID(), imageId, versionId);
      const b = await driver.ensureClientDisk(randomUUID(), imageId, versionId);
      const ea = await exportDisk(a.path);
      const eb = await exportDisk(b.path);
      // The daemon caches on its own: tgtd opens the FUSE file O_DIRECT (no second copy in the page cache).
      const luns = (await adapter.showTargets()).filter((t) => t.tid === ea.spec.tid).flatMap((t) => t.luns.filter((l) => l.lun === 1));
      expect(luns.map((l) => l.backingStoreFlags)).toEqual(['direct']);
      // Over iSCSI: client A overwrites the version's data and writes 8 MiB elsewhere; B reads the version's bytes.
      const w = await qemuIo(ea.login, [`write -P 0x5a ${GiB} 1M`, 'write -P 0x33 64M 8M', 'flush']);
      expect(w.code).toBe(0);
      expect((await qemuIo(ea.login, [`read -P 0x5a ${GiB} 1M`, 'read -P 0x33 64M 8M'])).output).not.toMatch(/Pattern verification failed/);
      expect((await qemuIo(eb.login, ['read -P 0 64M 8M'])).output).not.toMatch(/Pattern verification failed/);
      expectBytes(await readAt(b.path, GiB, MiB), data);
      const version = (await driver.versionInfo(imageId, versionId))!.ref;
      expectBytes(await readAt(version, GiB, MiB), data);
      expectBytes(await readAt(version, 64 * MiB, MiB), Buffer.alloc(MiB));
      // The overlay holds A's writes (9 MiB), B's stays empty.
      expect((await driver.clientDisk(a.clientId))!.writtenBytes).toBeGreaterThanOrEqual(9 * MiB);
      expect((await driver.clientDisk(b.clientId))!.writtenBytes).toBeLessThan(MiB);

      // Commit A (through the daemon's consistent view) into the image, freeze it as a new version.
      await exporter.removeExport(ea.spec.tid, { force: true });
      await driver.commitClientDisk(a.clientId, imageId);
      const v2 = randomUUID();
      await driver.createVersion(imageId, v2);
      const c = await driver.ensureClientDisk(randomUUID(), imageId, v2);
      const ec = await exportDisk(c.path);
      expect((await qemuIo(ec.login, [`read -P 0x5a ${GiB} 1M`, 'read -P 0x33 64M 8M'])).output).not.toMatch(/Pattern verification failed|error/i);
      expect(c.writtenBytes).toBeLessThan(MiB);

      // Reset (destroy + ensure) gives A a fresh disk of the version again, in O(1).
      await driver.destroyClientDisk(a.clientId);
      const a2 = await driver.ensureClientDisk(a.clientId, imageId, versionId);
      expect(a2.writtenBytes).toBeLessThan(MiB);
      expectBytes(await readAt(a2.path, GiB, MiB), data);
      expectBytes(await readAt(a2.path, 64 * MiB, MiB), Buffer.alloc(MiB));

      for (const e of [eb, ec]) await exporter.removeExport(e.spec.tid, { force: true });
      for (const d of [a2, b, c]) await driver.destroyClientDisk(d.clientId);
      await driver.destroyVersion(imageId, v2);
      expect(await ourMounts(root)).toEqual([]);
    });

    it('re-mounts every overlay when the daemon is killed, so a re-created LUN reads the client data again', async () => {
      const d = await driver.ensureClientDisk(randomUUID(), imageId, versionId);
      await writeAt(d.path, 0, Buffer.alloc(4096, 0x42));
      const old = daemonOf(driver).daemonPid!;
      const reattached = new Promise<string[]>((resolve) => driver.onDisksReattached(resolve));
      process.kill(old, 'SIGKILL');
      expect(await reattached).toEqual([d.clientId]);
      expect(daemonOf(driver).daemonPid).not.toBe(old);
      expect(await pidAlive(old)).toBe(false);
      expect(await ourMounts(root)).toEqual([d.path]); // the dead mount was swept, the new one is in its place
      expectBytes(await readAt(d.path, 0, 4096), Buffer.alloc(4096, 0x42));
      const e = await exportDisk(d.path);
      expect((await qemuIo(e.login, ['read -P 0x42 0 4k'])).output).not.toMatch(/Pattern verification failed/);
      await exporter.removeExport(e.spec.tid, { force: true });
      await driver.destroyClientDisk(d.clientId);
    });
  });

  /** Starts the holder fixture (a second DLS on this root), optionally behind `prefix` (e.g. `unshare --mount`). */
  async function startHolder(clients: string[], prefix: string[] = [], fill?: number): Promise<{ child: ChildProcess; daemonPid: number }> {
    const argv = [
      process.execPath,
      '-r',
      'ts-node/register/transpile-only',
      '-r',
      'tsconfig-paths/register',
      path.join(__dirname, 'fixtures/overlay-holder.ts'),
      root,
      clients.join(','),
      imageId,
      versionId,
      ...(fill === undefined ? [] : [String(fill)]),
    ];
    const all = [...prefix, ...argv];
    const child = spawn(all[0], all.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TS_NODE_PROJECT: path.join(__dirname, '../../tsconfig.json') },
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const m = await waitFor(() => /ready (\d+)/.exec(out), 60_000, `holder ready (${out})`);
    return { child, daemonPid: Number(m[1]) };
  }

  async function killHolder(child: ChildProcess | undefined): Promise<void> {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  it('after a kill -9 of the process that owns the driver, a new driver attaches to its daemon and keeps the disks', async () => {
    const clients = [randomUUID(), randomUUID()];
    // The holder is a second DLS on the same root; ours must not own the daemon meanwhile.
    await driver.close();
    let child: ChildProcess | undefined;
    try {
      const h = await startHolder(clients);
      child = h.child;
      const daemonPid = h.daemonPid;
      await writeAt(path.join(root, 'clients', clients[0], 'disk.raw'), 0, Buffer.alloc(4096, 0x17));
      await killHolder(child);
      expect(await pidAlive(daemonPid)).toBe(true); // outlives its parent, still serving
      driver = new DirStorageDriver({ root });
      await driver.init();
      expect(daemonOf(driver).daemonPid).toBe(daemonPid); // attached, not restarted
      expect((await ourMounts(root)).sort()).toEqual(clients.map((c) => path.join(root, 'clients', c, 'disk.raw')).sort());
      expectBytes(await readAt((await driver.clientDisk(clients[0]))!.path, 0, 4096), Buffer.alloc(4096, 0x17));
      for (const c of clients) await driver.destroyClientDisk(c);
      await driver.close();
      expect(await pidAlive(daemonPid)).toBe(false);
      expect(await ourMounts(root)).toEqual([]);
    } finally {
      await killHolder(child);
      driver = new DirStorageDriver({ root });
      await driver.init();
    }
  });

  it('a daemon left behind in another mount namespace (DLS under ip netns exec) is quit cleanly and replaced, keeping the data', async () => {
    const clients = [randomUUID(), randomUUID()];
    await driver.close();
    let child: ChildProcess | undefined;
    try {
      // `unshare --mount` gives the holder private mounts, as `ip netns exec` or a unit's PrivateMounts= would.
      const h = await startHolder(clients, ['unshare', '--mount', '--propagation', 'private'], 0x5a);
      child = h.child;
      expect(await ourMounts(root)).toEqual([]); // its FUSE mounts are invisible here
      await killHolder(child);
      expect(await pidAlive(h.daemonPid)).toBe(true);
      driver = new DirStorageDriver({ root });
      await driver.init();
      expect(await pidAlive(h.daemonPid)).toBe(false); // quit, not left serving mounts nobody here can see
      expect(daemonOf(driver).daemonPid).not.toBe(h.daemonPid);
      expect((await ourMounts(root)).sort()).toEqual(clients.map((c) => path.join(root, 'clients', c, 'disk.raw')).sort());
      expectBytes(await readAt((await driver.clientDisk(clients[0]))!.path, 0, 4096), Buffer.alloc(4096, 0x5a));
      for (const c of clients) await driver.destroyClientDisk(c);
    } finally {
      await killHolder(child);
    }
  });

  it('after a kill -9 of both DLS and the daemon, start sweeps the dead mounts and serves the disks again', async () => {
    const c = await driver.ensureClientDisk(randomUUID(), imageId, versionId);
    await writeAt(c.path, 0, Buffer.alloc(4096, 0x21));
    const pid = daemonOf(driver).daemonPid!;
    daemonOf(driver).removeAllListeners('down'); // this driver "died" with it: nobody recovers
    process.kill(pid, 'SIGKILL');
    await waitFor(async () => !(await pidAlive(pid)), 10_000, 'daemon gone');
    await expect(fsp.stat(c.path)).rejects.toMatchObject({ code: expect.stringMatching(/^(ENOTCONN|ECONNABORTED)$/) }); // a dead mount
    driver = new DirStorageDriver({ root });
    await driver.init();
    expect(await ourMounts(root)).toEqual([c.path]);
    expectBytes(await readAt(c.path, 0, 4096), Buffer.alloc(4096, 0x21));
    await driver.destroyClientDisk(c.clientId);
  });

  it('a daemon stopped while it is still starting does not outlive the stop', async () => {
    const runDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dls-qsd-stop-'));
    const daemon = new FuseExportDaemon({ runDir });
    try {
      const starting = daemon.start();
      await daemon.stop(); // before the daemon answered QMP: its pid is not known yet
      await starting;
      expect(daemon.running).toBe(false);
      expect(await daemonsUnder(runDir)).toEqual([]);
    } finally {
      await daemon.stop();
      await fsp.rm(runDir, { recursive: true, force: true });
    }
  });

  it('after close(), work that needs the daemon (a disk made ahead, a boot) is refused and starts none', async () => {
    const closedRoot = await fsp.mkdtemp(path.join(os.tmpdir(), 'dls-overlay-closed-'));
    const closed = new DirStorageDriver({ root: closedRoot });
    try {
      await closed.init();
      const img = randomUUID();
      const ver = randomUUID();
      await fsp.writeFile(await closed.ensureImage(img), Buffer.alloc(MiB, 1));
      await closed.createVersion(img, ver);
      await closed.close();
      expect(await daemonsUnder(closedRoot)).toEqual([]);
      const err = await storageErrorOf(closed.ensureClientDisk(randomUUID(), img, ver));
      expect(err.code).toBe(StorageErrorCode.POOL_UNAVAILABLE);
      expect(err.message).toMatch(/shutting down/);
      expect(await daemonsUnder(closedRoot)).toEqual([]);
    } finally {
      await closed.close();
      for (const m of await ourMounts(closedRoot)) await fsp.rm(m).catch(() => undefined);
      await fsp.rm(closedRoot, { recursive: true, force: true });
    }
  });

  it('refuses clearly: a missing version, and FUSE or the daemon binary unavailable at start', async () => {
    expect((await storageErrorOf(driver.ensureClientDisk(randomUUID(), imageId, randomUUID()))).code).toBe(StorageErrorCode.NOT_FOUND);
    const other = await fsp.mkdtemp(path.join(os.tmpdir(), 'dls-overlay-bad-'));
    try {
      const t0 = Date.now();
      const noFuse = new DirStorageDriver({
        root: other,
        clone: 'overlay',
        daemon: new FuseExportDaemon({ runDir: path.join(other, 'run'), fuseDevice: path.join(other, 'no-fuse') }),
      });
      const e1 = await storageErrorOf(noFuse.init());
      expect(e1.code).toBe(StorageErrorCode.POOL_UNAVAILABLE);
      expect(e1.message).toMatch(/FUSE is unavailable.*DLS_DIR_CLONE=copy/);
      const noBinary = new DirStorageDriver({
        root: other,
        clone: 'overlay',
        daemon: new FuseExportDaemon({ runDir: path.join(other, 'run'), binary: '/nonexistent/qemu-storage-daemon' }),
      });
      const e2 = await storageErrorOf(noBinary.init());
      expect(e2.code).toBe(StorageErrorCode.POOL_UNAVAILABLE);
      expect(e2.message).toMatch(/cannot start/);
      expect(Date.now() - t0).toBeLessThan(15_000);
      // The default (auto) must work on any host: without FUSE it falls back to full copies, and says so.
      const warnings: string[] = [];
      const logger = { log: () => undefined, error: () => undefined, warn: (m: string) => warnings.push(m) };
      const auto = new DirStorageDriver({
        root: other,
        logger,
        daemon: new FuseExportDaemon({ runDir: path.join(other, 'run'), fuseDevice: path.join(other, 'no-fuse') }),
      });
      await auto.init();
      expect(await auto.status()).toMatchObject({ cloneMethod: 'copy', healthy: true });
      expect(warnings.join('\n')).toMatch(/falling back to FULL COPIES/);
      const reflink = new DirStorageDriver({ root: other, clone: 'reflink' });
      expect((await storageErrorOf(reflink.init())).message).toMatch(/DLS_DIR_CLONE=reflink but .* cannot reflink/);
    } finally {
      await fsp.rm(other, { recursive: true, force: true });
    }
  });
});
