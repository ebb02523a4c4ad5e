/**
 * TgtExporter against a real tgtd (started here through TgtdSupervisor on 127.0.0.1, unusual port, own control port)
 * and real initiators (libiscsi-bin tools, qemu-io's iscsi driver).
 */
import { mkdtemp, open, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExportSpec, TgtExporter } from '../../src/modules/iscsi/tgt-exporter';
import { CommandRunner, spawnCommand } from '../../src/common/exec/command-runner';
import { TgtAdmAdapter } from '../../src/modules/iscsi/tgt.adapter';
import { TgtErrorCode } from '../../src/modules/iscsi/tgt.errors';
import { TgtdSupervisor } from '../../src/modules/iscsi/tgtd.supervisor';
import {
  LOOPBACK,
  Login,
  SessionHolder,
  libiscsi,
  openFiles,
  pickControlPort,
  pickPortalPort,
  qemuIo,
  tgtdPidsFor,
  waitFor,
} from './iscsi-test-helpers';

const PREFIX = 'iqn.2025-01.lab.dls.e2e:';
const MiB = 1024 * 1024;

let dir: string;
let port: number;
let controlPort: number;
let supervisor: TgtdSupervisor;
let exporter: TgtExporter;
let execCount = 0;
const holders: SessionHolder[] = [];

const spec = (n: number, over: Partial<ExportSpec> = {}): ExportSpec => ({
  tid: n,
  iqn: `${PREFIX}pc${n}`,
  backingPath: join(dir, `pc${n}.raw`),
  chapUser: `e2e-pc${n}`,
  chapSecret: `S3cretPass0${n}`,
  initiatorName: `iqn.2025-01.lab.dls.e2e:client${n}`,
  serial: `DLS-E2E-${n}`,
  ...over,
});
const login = (s: ExportSpec, over: Partial<Login> = {}): Login => ({
  port,
  iqn: s.iqn,
  user: s.chapUser,
  secret: s.chapSecret,
  initiator: s.initiatorName,
  ...over,
});

async function sparseFile(path: string, bytes = 64 * MiB): Promise<void> {
  await writeFile(path, '');
  await truncate(path, bytes);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), `dls-tgt-e2e-${process.pid}-`));
  for (const n of [1, 2, 3, 4, 5]) await sparseFile(join(dir, `pc${n}.raw`));
  port = await pickPortalPort(1);
  controlPort = pickControlPort(1);
  // Through the tgtadm binary (the other suites run on the socket transport), so both transports meet the real tgtd.
  const countingExec: CommandRunner = (file, args, opts) => {
    execCount++;
    return spawnCommand(file, args, opts);
  };
  const adapter = new TgtAdmAdapter({ controlPort, runner: countingExec, timeoutMs: 10_000 });
  supervisor = new TgtdSupervisor({ controlPort, portal: { address: LOOPBACK, port }, adapter, nopInterval: 5, nopCount: 3 });
  await supervisor.start();
  exporter = new TgtExporter({ adapter });
});

afterAll(async () => {
  for (const h of holders) h.kill();
  try {
    await supervisor?.stop();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  expect(await tgtdPidsFor(controlPort)).toEqual([]);
});

describe('TgtExporter with a real tgtd', () => {
  it('exports a sparse 64 MiB file that only the right CHAP secret and initiator name can log in to', async () => {
    const s = spec(1);
    expect(await exporter.ensureExport(s)).toMatchObject({ action: 'created' });

    const inq = await libiscsi('iscsi-inq', login(s));
    expect(inq.code).toBe(0);
    expect(inq.stdout).toMatch(/Vendor:DLS\b/);
    expect(inq.stdout).toMatch(/Product:DISKLESS\b/);
    const serial = await libiscsi('iscsi-inq', login(s), ['-e', '1', '-c', '128']);
    expect(serial.stdout).toContain('DLS-E2E-1');

    const cap = await libiscsi('iscsi-readcapacity16', login(s));
    expect(cap.code).toBe(0);
    expect(cap.stdout).toContain(`Total size:${64 * MiB}`);
    expect(cap.stdout).toMatch(/EXPONENT:3\b/); // lbppbe=3 → 4 KiB physical blocks

    const wrongSecret = await libiscsi('iscsi-inq', login(s, { secret: 'WrongSecret01' }));
    expect(wrongSecret.code).toBe(10);
    expect(wrongSecret.output).toContain('Authentication failure');

    const wrongInitiator = await libiscsi('iscsi-inq', login(s, { initiator: 'iqn.2025-01.lab.dls.e2e:intruder' }));
    expect(wrongInitiator.code).toBe(10);
    expect(wrongInitiator.output).toContain('Target not found');
  });

  it('ensureExport twice is a no-op', async () => {
    const s = spec(2);
    await exporter.ensureExport(s);
    const before = await supervisor.adapter.showTargets();
    expect(await exporter.ensureExport(s)).toEqual({ tid: 2, iqn: s.iqn, action: 'unchanged', changes: [] });
    expect(await supervisor.adapter.showTargets()).toEqual(before);
  });

  it('serves what the file holds, and writes over iSCSI land in the file', async () => {
    const s = spec(3);
    await exporter.ensureExport(s);
    const fh = await open(s.backingPath, 'r+');
    await fh.write(Buffer.alloc(4096, 0xa5), 0, 4096, 1 * MiB);
    await fh.close();

    const read = await qemuIo(login(s), ['read -P 0xa5 1M 4k', 'read -P 0x00 2M 4k']);
    expect(read.code).toBe(0);
    expect(read.output).not.toContain('Pattern verification failed');
    expect(read.stdout).toContain('read 4096/4096 bytes at offset 1048576');

    const write = await qemuIo(login(s), ['write -P 0x5a 8M 64k', 'flush']);
    expect(write.code).toBe(0);
    const data = await readFile(s.backingPath);
    expect(data.subarray(8 * MiB, 8 * MiB + 64 * 1024).every((b) => b === 0x5a)).toBe(true);
    expect(data[8 * MiB - 1]).toBe(0);
    expect(data[8 * MiB + 64 * 1024]).toBe(0);
  });

  it('removeExport refuses a target with a live session unless forced; forced, tgtd closes the file', async () => {
    const s = spec(4);
    await exporter.ensureExport(s);
    const holder = SessionHolder.start(login(s));
    holders.push(holder);
    try {
      await waitFor(async () => (await exporter.sessions()).find((t) => t.tid === 4)?.sessions.length, 15_000, 'a session');
      const sessions = (await exporter.sessions()).find((t) => t.tid === 4)!.sessions;
      expect(sessions).toEqual([{ sid: expect.any(Number), initiator: s.initiatorName, ip: LOOPBACK }]);
      // The same login, asked of that target alone (a boot's "is this disk in use" check), and of an idle one.
      expect(await exporter.connections(4)).toEqual(sessions);
      await exporter.ensureExport(spec(5));
      expect(await exporter.connections(5)).toEqual([]);
      await exporter.removeExport(5);
      await expect(exporter.connections(5)).rejects.toMatchObject({ code: TgtErrorCode.TARGET_NOT_FOUND });
      expect(await openFiles(supervisor.pid!)).toContain(s.backingPath);

      await expect(exporter.removeExport(4)).rejects.toMatchObject({ code: TgtErrorCode.TARGET_ACTIVE });
      expect((await supervisor.adapter.showTargets()).map((t) => t.tid)).toContain(4);

      expect(await exporter.removeExport(4, { force: true })).toMatchObject({ removed: true, accountsDeleted: [s.chapUser] });
      expect((await supervisor.adapter.showTargets()).map((t) => t.tid)).not.toContain(4);
      expect(await supervisor.adapter.listAccounts()).not.toContain(s.chapUser);
      expect(await openFiles(supervisor.pid!)).not.toContain(s.backingPath);
    } finally {
      holder.kill();
    }
  });

  it('refuses to export one backing file under two tids', async () => {
    await exporter.ensureExport(spec(5));
    await expect(exporter.ensureExport(spec(6, { backingPath: spec(5).backingPath }))).rejects.toMatchObject({
      code: TgtErrorCode.BACKING_FILE_IN_USE,
    });
    expect((await supervisor.adapter.showTargets()).map((t) => t.tid)).not.toContain(6);
  });

  it('rejects bad input before running anything', async () => {
    const before = execCount;
    const bad: Array<Partial<ExportSpec>> = [
      { iqn: 'iqn.2025-01.lab.dls.e2e:pc 7' },
      { iqn: 'iqn.2025-01.lab.dls.e2e:PC7' },
      { iqn: 'iqn.2025-01.lab.dls.e2e:pc7;reboot' },
      { backingPath: 'pc1.raw' },
      { chapSecret: 'short1' },
      { chapSecret: 'muchtoolongsecret1' },
    ];
    for (const over of bad) {
      await expect(exporter.ensureExport(spec(7, over))).rejects.toMatchObject({ code: TgtErrorCode.INVALID_ARGUMENT });
    }
    await expect(supervisor.adapter.newTarget(7, 'iqn.2025-01.lab.dls.e2e:a b')).rejects.toMatchObject({
      code: TgtErrorCode.INVALID_ARGUMENT,
    });
    await expect(supervisor.adapter.newLun(7, 1, '../pc1.raw')).rejects.toMatchObject({ code: TgtErrorCode.INVALID_ARGUMENT });
    await expect(supervisor.adapter.newAccount('x', 'S3cret')).rejects.toMatchObject({ code: TgtErrorCode.INVALID_ARGUMENT });
    expect(execCount).toBe(before);
  });

  it('maps real tgtd errors', async () => {
    await expect(supervisor.adapter.deleteTarget(4242)).rejects.toMatchObject({ code: TgtErrorCode.TARGET_NOT_FOUND, exitCode: 22 });
    await expect(supervisor.adapter.newLun(5, 1, spec(1).backingPath)).rejects.toMatchObject({ code: TgtErrorCode.LUN_EXISTS });
    await expect(supervisor.adapter.deleteConnection(5, 999999, 0)).rejects.toMatchObject({ code: TgtErrorCode.SESSION_NOT_FOUND });
    const unreachable = new TgtAdmAdapter({ controlPort: pickControlPort(99) });
    await expect(unreachable.showTargets()).rejects.toMatchObject({ code: TgtErrorCode.DAEMON_UNREACHABLE, exitCode: 107 });
  });
});
