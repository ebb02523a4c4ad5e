/**
 * Secure Boot through DLS (issue 13): OVMF with Secure Boot on and Microsoft's keys enrolled (Debian's
 * `OVMF_CODE_4M.ms.fd` / `OVMF_VARS_4M.ms.fd`), its own UEFI PXE (no NIC option ROM), boots Debian's signed chain from
 * DLS: shim (signed by Microsoft) → GRUB (signed by Debian; `grubx64.efi` next to shim) → the GRUB config DLS renders
 * for this client → Debian's signed kernel and its initramfs plus DLS's per-boot iSCSI fragment → the root filesystem
 * on the client's clone, whose init prints its marker. The same firmware offered Debian's unsigned `ipxe.efi` (a
 * client not marked Secure Boot) fetches it and never runs it: Secure Boot was really on. An operator's signed loaders,
 * uploaded through `/api/v1/signed-loaders`, replace Debian's chain for the CPU they are filed under.
 *
 * DLS runs with the README's defaults (shim and GRUB come from Debian's shim-signed and grub-efi-amd64-signed,
 * copied into the boot files root at start); a user sets the range, the image and the clients.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildLinuxImage, LINUX_COUNT_MARKER, LINUX_OK_MARKER } from '../lab/linux-image';
import { createLab, Lab } from '../lab/netns';
import { bootClient, OVMF_IPV6_PXE_OFF, VIRTIO_NO_NIC_ROM } from '../lab/qemu';
import { addClient, addLabRange, buildDls, DlsInLab, provisionLinuxImage, sessionsOf, startDlsInLab } from './dls-lab';

jest.setTimeout(900_000);

const MAC = { signed: '52:54:00:d1:5b:01', unsigned: '52:54:00:d1:5b:02', operator: '52:54:00:d1:5b:03' };
/** OVMF's own PXE over IPv4 only: no iPXE option ROM on the NIC, no IPv6 PXE after it. */
const OVMF_PXE_ONLY = [...VIRTIO_NO_NIC_ROM, ...OVMF_IPV6_PXE_OFF];

describe('Secure Boot (OVMF with Microsoft keys): shim → GRUB → signed kernel from DLS', () => {
  let lab: Lab;
  let dls: DlsInLab;
  let work: string;
  let imageId: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'dls-secureboot-e2e-'));
    await buildDls();
    const linux = await buildLinuxImage({ log: (l) => console.log(l) });
    lab = await createLab();
    dls = await startDlsInLab(lab, { dataDir: join(work, 'data'), logFile: join(work, 'dls.log') });
    ({ imageId } = await provisionLinuxImage(dls, linux));
    await addLabRange(dls, lab, 'lab');
  });

  afterAll(async () => {
    try {
      await dls?.stop();
    } finally {
      await lab?.destroy();
      if (work) rmSync(work, { recursive: true, force: true });
    }
  });

  it('a client marked Secure Boot boots the signed chain to its Linux root', async () => {
    const c = await addClient(dls, { mac: MAC.signed, hostname: 'sb-linux', imageId, diskPolicy: 'persistent' });
    await dls.ok('PATCH', `/api/v1/clients/${c.id}`, { secureBoot: true });
    const vm = await bootClient(lab, {
      mac: MAC.signed,
      firmware: 'uefi-secure',
      nic: 'virtio-net-pci',
      memoryMb: 512,
      timeoutMs: 400_000,
      logDir: join(work, 'vm', 'signed'),
      extraArgs: OVMF_PXE_ONLY,
    });
    try {
      const ok = await vm.waitFor(LINUX_OK_MARKER, 380_000).catch((e: Error) => {
        // The firmware's first attempt (PXE) is at the start of its console; the timeout message shows only the end.
        const start = vm
          .serialText()
          .replace(/Downloading\.\.\.\d+%\s*/g, '')
          .slice(0, 4000);
        throw new Error(`${e.message}\n--- COM1 (start) ---\n${start}\n--- DLS log ---\n${dls.logTail(5000)}`);
      });
      expect(ok.match[2]).toBe('rw');
      expect((await vm.waitFor(LINUX_COUNT_MARKER, 60_000)).match[1]).toBe('1');
      console.log(`Secure Boot, UEFI PXE → shim → GRUB → signed kernel: DLS-LINUX-OK after ${(ok.elapsedMs / 1000).toFixed(1)} s`);
      // The kernel really ran under Secure Boot (it says so when the firmware's variable is set).
      expect(vm.serialText()).toMatch(/Secure boot enabled/i);
    } finally {
      await vm.kill();
    }
    const [s] = await sessionsOf(dls, c.id);
    expect(s).toMatchObject({ firmware: 'uefi-pxe', secureBoot: true });
  });

  it("the same firmware refuses Debian's unsigned iPXE (a client not marked Secure Boot)", async () => {
    const c = await addClient(dls, { mac: MAC.unsigned, hostname: 'sb-ipxe', imageId, diskPolicy: 'persistent' });
    const vm = await bootClient(lab, {
      mac: MAC.unsigned,
      firmware: 'uefi-secure',
      nic: 'virtio-net-pci',
      memoryMb: 512,
      timeoutMs: 400_000,
      logDir: join(work, 'vm', 'unsigned'),
      extraArgs: OVMF_PXE_ONLY,
    });
    try {
      // The firmware downloads ipxe.efi over TFTP, and its boot manager refuses to start it: OVMF says so on its console
      // ("failed to load Boot0001 "UEFI PXEv4 (MAC:…)" …: Access Denied"), then tries its next option.
      const denied = await vm.waitFor(/failed to load Boot\d+ "UEFI PXEv4[^\n]*: Access Denied/, 300_000);
      expect(vm.serialText()).toMatch(/NBP filename is ipxe\.efi/);
      expect(vm.serialText()).not.toMatch(/iPXE/); // the iPXE banner: it never ran
      const [s] = await sessionsOf(dls, c.id);
      expect(s.stages.loaderAt).not.toBeNull(); // DLS did serve it whole
      expect(s.stages.scriptAt).toBeNull();
      expect(s.secureBoot).toBe(false); // DLS did not hand it a Secure Boot loader: the client is not marked so
      console.log(`Secure Boot refused the unsigned ipxe.efi after ${(denied.elapsedMs / 1000).toFixed(1)} s`);
    } finally {
      await vm.kill();
    }
  });

  // The operator's own signed chain (what a Windows site uploads: iPXE's Microsoft-signed shim and iPXE's signed
  // ipxe.efi). Debian's shim and GRUB stand in for it here: no iPXE build signed for Microsoft's keys ships in Debian.
  // Debian's copies in the root are removed first, so the boot can only come from the uploaded files.
  it("an operator's signed loaders (uploaded through the API) are what a Secure Boot client loads", async () => {
    const up = await dls.putFile('/api/v1/signed-loaders/x64/shimx64.efi?entry=true', '/usr/lib/shim/shimx64.efi.signed');
    expect(up).toMatchObject({ status: 200, body: { path: 'signed/x64/shimx64.efi', entry: true, state: 'ok' } });
    const second = await dls.putFile('/api/v1/signed-loaders/x64/grubx64.efi', '/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed');
    expect(second.status).toBe(200);
    for (const f of ['shimx64.efi', 'grubx64.efi']) rmSync(join(dls.dataDir, 'tftp', f));
    const c = await addClient(dls, { mac: MAC.operator, hostname: 'sb-operator', imageId, diskPolicy: 'persistent' });
    await dls.ok('PATCH', `/api/v1/clients/${c.id}`, { secureBoot: true });
    const vm = await bootClient(lab, {
      mac: MAC.operator,
      firmware: 'uefi-secure',
      nic: 'virtio-net-pci',
      memoryMb: 512,
      timeoutMs: 400_000,
      logDir: join(work, 'vm', 'operator'),
      extraArgs: OVMF_PXE_ONLY,
    });
    try {
      const ok = await vm.waitFor(LINUX_OK_MARKER, 380_000).catch((e: Error) => {
        // The firmware's first attempt (PXE) is at the start of its console; the timeout message shows only the end.
        const start = vm
          .serialText()
          .replace(/Downloading\.\.\.\d+%\s*/g, '')
          .slice(0, 4000);
        throw new Error(`${e.message}\n--- COM1 (start) ---\n${start}\n--- DLS log ---\n${dls.logTail(5000)}`);
      });
      expect(vm.serialText()).toMatch(/NBP filename is signed\/x64\/shimx64\.efi/);
      expect(vm.serialText()).toMatch(/Secure boot enabled/i);
      console.log(`Secure Boot through the operator's uploaded shim and loader: DLS-LINUX-OK after ${(ok.elapsedMs / 1000).toFixed(1)} s`);
    } finally {
      await vm.kill();
    }
    const [s] = await sessionsOf(dls, c.id);
    expect(s).toMatchObject({ firmware: 'uefi-pxe', secureBoot: true });
  });
});
