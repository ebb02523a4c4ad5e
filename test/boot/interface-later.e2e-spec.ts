/**
 * A boot interface that appears after its range is enabled (issue 8): DLS starts with the README's defaults in a lab
 * namespace whose bridge does not exist yet, the range naming that bridge is enabled, and /health/ready says why DHCP
 * is not served. Then the bridge appears — nothing else happens: no API call, no restart — and a QEMU client boots
 * from it. One log line each way. Needs root and the packages listed in pxe-boot.e2e-spec.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTestDisk, parseSerial } from '../lab/disk';
import { createLab, Lab } from '../lab/netns';
import { bootClient, QemuClient } from '../lab/qemu';
import { addClient, addLabRange, buildDls, DlsInLab, provisionImage, startDlsInLab, waitFor } from './dls-lab';

jest.setTimeout(300_000);

const DISK_BYTES = 8 * 1024 * 1024;
const MAC = '52:54:00:d1:1a:7e';

describe('a boot interface that appears later is served as soon as it is usable (QEMU client in a network namespace)', () => {
  let lab: Lab;
  let dls: DlsInLab | undefined;
  let vm: QemuClient | undefined;
  let work: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'dls-iflater-e2e-'));
    await buildDls();
    lab = await createLab();
  });

  afterAll(async () => {
    try {
      await vm?.kill();
      await dls?.stop();
    } finally {
      await lab?.destroy();
      if (work) rmSync(work, { recursive: true, force: true });
    }
  });

  it('range enabled before its bridge exists → 503 naming the interface; the bridge appears → a client boots', async () => {
    await lab.removeBridge();
    const diskPath = join(work, 'disk.img');
    await buildTestDisk(diskPath, { label: 'dls-e2e-late', counter: 0, sizeBytes: DISK_BYTES });
    dls = await startDlsInLab(lab, { dataDir: join(work, 'data'), logFile: join(work, 'dls.log') });
    const { imageId } = await provisionImage(dls, 'late-disk', diskPath, DISK_BYTES);
    await addLabRange(dls, lab, 'lab', { served: false }); // its bridge is gone: DLS cannot serve it yet
    await addClient(dls, { mac: MAC, hostname: 'lab-late', imageId, diskPolicy: 'persistent' });

    const notServed = await waitFor(
      '/health/ready to name the missing boot interface',
      async () => {
        const r = await dls!.api('GET', '/api/v1/health/ready');
        const dhcp = r.body?.error?.dhcp;
        return r.status === 503 && dhcp?.unavailable?.some((u: { name: string }) => u.name === lab.bridge) ? dhcp : undefined;
      },
      60_000,
      500,
    );
    console.log(`before the bridge: ${JSON.stringify(notServed)}`);
    expect(dls.logTail(20_000)).toMatch(new RegExp(`interface ${lab.bridge} missing: not serving range`));

    await lab.recreateBridge();
    await waitFor(
      'DHCP to serve the bridge',
      async () => {
        const r = await dls!.api('GET', '/api/v1/health/ready');
        return r.status === 200 && r.body?.info?.dhcp?.interfaces?.some((i: { name: string }) => i.name === lab.bridge) ? true : undefined;
      },
      60_000,
      500,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n--- DLS log ---\n${dls!.logTail(4000)}`);
    });
    expect(dls.logTail(20_000)).toMatch(new RegExp(`interface ${lab.bridge} up with ${lab.serverIp}: serving range`));

    vm = await bootClient(lab, { mac: MAC, firmware: 'bios', nic: 'e1000', timeoutMs: 150_000, logDir: join(work, 'vm') });
    const ok = await vm.waitFor(/DLS-END/, 90_000).catch((e: Error) => {
      throw new Error(`${e.message}\n--- console ---\n${vm!.consoleText().slice(-2000)}\n--- DLS log ---\n${dls!.logTail(4000)}`);
    });
    console.log(`client on the late bridge: QEMU start → DLS-END ${(ok.elapsedMs / 1000).toFixed(2)} s`);
    expect(parseSerial(vm.serialText())).toMatchObject({ bootOk: true, count: 0, writeOk: true });
    // The README's default metrics listener (127.0.0.1:9464) serves in the namespace and counted this boot's DHCP.
    const metrics = (await lab.exec(['curl', '-sS', '-m', '10', 'http://127.0.0.1:9464/metrics'])).stdout;
    expect(metrics).toMatch(/^dls_dhcp_packets_total\{[^}]*\} [1-9]/m);
  });
});
