/**
 * `kill -9` of DLS while its tgtd runs (issue 8): a client boots, DLS is killed without a chance to clean up (its
 * tgtd and embedded PostgreSQL keep running), DLS is started again on the same data dir and control port, and:
 * - the new DLS adopts the PostgreSQL the killed one left and replaces the tgtd it left (named by `<data>/tgtd.pid`);
 * - `/api/v1/health/ready` answers 503 naming `tgtd` while tgtd does not answer (frozen with SIGSTOP), and 200 again
 *   once the supervisor has restarted it (after a `kill -9` of the frozen tgtd) and re-created the exports;
 * - the same client boots again to DLS-BOOT-OK.
 *
 * DLS runs with the README's defaults (see startDlsInLab). Needs root and the packages listed in pxe-boot.e2e-spec.ts.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTestDisk, parseSerial } from '../lab/disk';
import { createLab, Lab } from '../lab/netns';
import { bootClient, QemuClient } from '../lab/qemu';
import { addClient, addLabRange, buildDls, DlsInLab, provisionImage, startDlsInLab, waitFor } from './dls-lab';

jest.setTimeout(300_000);

const DISK_BYTES = 8 * 1024 * 1024;
const MAC = '52:54:00:d1:e3:0a';

/** True while `pid` exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).charAt(0) !== 'Z';
  } catch {
    return false;
  }
}

describe('kill -9 of DLS with tgtd running, restart, a client boots (QEMU in a network namespace)', () => {
  let lab: Lab;
  let work: string;
  const servers: DlsInLab[] = [];
  const vms: QemuClient[] = [];
  /** Pids the test signals itself (tgtd); killed in afterAll if still there. */
  const signalled = new Set<number>();

  const tgtdPid = (dls: DlsInLab): number => Number(readFileSync(join(dls.dataDir, 'tgtd.pid'), 'utf8').trim());
  const ready = (dls: DlsInLab) => dls.api('GET', '/api/v1/health/ready');

  const bootOk = async (dls: DlsInLab, name: string) => {
    const vm = await bootClient(lab, { mac: MAC, firmware: 'bios', nic: 'e1000', timeoutMs: 150_000, logDir: join(work, 'vm', name) });
    vms.push(vm);
    try {
      const ok = await vm.waitFor(/DLS-BOOT-OK/, 90_000).catch((e: Error) => {
        throw new Error(`${e.message}\n--- console ---\n${vm.consoleText().slice(-2000)}\n--- DLS log ---\n${dls.logTail(4000)}`);
      });
      await vm.waitFor(/DLS-END/, 10_000);
      console.log(`${name}: QEMU start → DLS-BOOT-OK ${(ok.elapsedMs / 1000).toFixed(2)} s`);
      return parseSerial(vm.serialText());
    } finally {
      await vm.kill();
    }
  };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'dls-crash-e2e-'));
    await buildDls();
    lab = await createLab();
  });

  afterAll(async () => {
    for (const vm of vms) await vm.kill().catch(() => undefined);
    for (const pid of signalled) {
      try {
        process.kill(pid, 'SIGCONT');
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    try {
      for (const dls of servers) await dls.stop().catch(() => undefined);
    } finally {
      // Also kills what the crashed DLS left (tgtd, PostgreSQL): everything in the namespace was started here.
      await lab?.destroy();
      if (work) rmSync(work, { recursive: true, force: true });
    }
  });

  it('restarts on the same data dir after kill -9, reports tgtd down (503) and up (200), and boots the client again', async () => {
    const dataDir = join(work, 'data');
    const diskPath = join(work, 'disk.img');
    await buildTestDisk(diskPath, { label: 'dls-e2e-crash', counter: 0, sizeBytes: DISK_BYTES });
    const first = await startDlsInLab(lab, { dataDir, logFile: join(work, 'dls-1.log') });
    servers.push(first);
    const { imageId } = await provisionImage(first, 'crash-disk', diskPath, DISK_BYTES);
    await addLabRange(first, lab);
    await addClient(first, { mac: MAC, hostname: 'lab-crash', imageId, diskPolicy: 'persistent' });
    expect(await bootOk(first, 'boot before the crash')).toMatchObject({ bootOk: true, count: 0, writeOk: true });

    // kill -9 of DLS alone: its tgtd (with the client's export) keeps running.
    const oldTgtd = tgtdPid(first);
    expect(alive(oldTgtd)).toBe(true);
    expect(await first.showTargets()).toMatch(/^Target \d+: /m);
    await first.crash();
    expect(alive(oldTgtd)).toBe(true);

    // Same install restarted: same data dir (PostgreSQL adopted, tgtd pid file) and control port.
    const second = await startDlsInLab(lab, { dataDir, logFile: join(work, 'dls-2.log'), controlPort: first.controlPort });
    servers.push(second);
    const newTgtd = tgtdPid(second);
    expect(newTgtd).not.toBe(oldTgtd);
    await waitFor('the crashed run’s tgtd to be gone', async () => !alive(oldTgtd), 30_000, 250);
    const up = await ready(second);
    expect(up.status).toBe(200);
    expect(up.body.info.tgtd).toMatchObject({ status: 'up', pid: newTgtd, exports: 1 }); // the client's export, re-created

    // tgtd stops answering: /health/ready is 503 and names tgtd.
    signalled.add(newTgtd);
    process.kill(newTgtd, 'SIGSTOP');
    const down = await waitFor(
      '/health/ready to report tgtd down',
      async () => {
        const r = await ready(second);
        return r.status === 503 && r.body?.error?.tgtd ? r : undefined;
      },
      60_000,
      500,
    );
    console.log(`tgtd frozen: ${down.status} ${JSON.stringify(down.body.error.tgtd)}`);
    expect(down.body.error.tgtd.status).toBe('down');

    // tgtd dies: the supervisor starts a new one and re-creates the exports; ready is 200 again.
    process.kill(newTgtd, 'SIGKILL');
    const back = await waitFor(
      '/health/ready to report tgtd up again',
      async () => {
        const r = await ready(second);
        return r.status === 200 && r.body?.info?.tgtd?.pid !== newTgtd ? r : undefined;
      },
      90_000,
      500,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n--- DLS log ---\n${second.logTail(4000)}`);
    });
    console.log(`tgtd restarted: ${JSON.stringify(back.body.info.tgtd)}`);
    // The new tgtd has the client's target again (re-created from the database by the supervisor's restart).
    expect(await second.showTargets()).toMatch(/^Target \d+: \S+/m);
    expect(back.body.info.tgtd.exports).toBe(1);

    // The client boots again from the restarted DLS and finds its earlier write.
    expect(await bootOk(second, 'boot after the restart')).toMatchObject({ bootOk: true, count: 1, writeOk: true });
    expect(existsSync(join(dataDir, 'tgtd.pid'))).toBe(true);
  });
});
