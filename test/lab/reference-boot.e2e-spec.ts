/**
 * Proves the boot lab harness end to end against the reference stack (dnsmasq + HTTP script + tgtd): a real
 * SeaBIOS/iPXE QEMU client boots the test disk over iSCSI, and the MBR payload's write reaches the disk file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTestDisk, parseSerial, readCounter } from './disk';
import { createLab, Lab, namespaceExists } from './netns';
import { bootClient } from './qemu';
import { ReferenceStack, startReferenceStack } from './reference-stack';

const MAC = '52:54:00:d1:50:01';
const BOOT_DEADLINE_MS = 60_000;
/** Two boots (each capped at 60 s + 10 s) plus slack; set here because the e2e project's default is too short. */
const TEST_TIMEOUT_MS = 2 * (BOOT_DEADLINE_MS + 10_000) + 20_000;

describe('boot lab against the reference stack (BIOS, e1000)', () => {
  let lab: Lab | undefined;
  let stack: ReferenceStack | undefined;
  let dir: string;
  let diskPath: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dls-lab-e2e-'));
    diskPath = join(dir, 'disk.img');
    lab = await createLab();
    await buildTestDisk(diskPath, { label: `e2e-${process.pid}`, counter: 0 });
    stack = await startReferenceStack(lab, { diskPath, macs: [MAC], workDir: join(dir, 'ref') });
  }, 60_000);

  afterAll(async () => {
    const ns = lab?.ns;
    try {
      await stack?.stop();
    } finally {
      await lab?.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
    if (ns) expect(namespaceExists(ns)).toBe(false);
  }, 30_000);

  async function bootOnce(run: number): Promise<ReturnType<typeof parseSerial>> {
    const vm = await bootClient(lab as Lab, {
      mac: MAC,
      firmware: 'bios',
      nic: 'e1000',
      logDir: join(dir, `run${run}`),
      timeoutMs: BOOT_DEADLINE_MS + 10_000,
    });
    try {
      await vm.waitFor(/DLS-BOOT-OK/, BOOT_DEADLINE_MS);
      await vm.waitFor(/DLS-END/, 10_000);
      return parseSerial(vm.serialText());
    } finally {
      await vm.kill();
    }
  }

  it(
    'boots the disk over iSCSI, shows the label and persists the counter write',
    async () => {
      const first = await bootOnce(1);
      expect(first).toEqual({
        bootOk: true,
        label: `e2e-${process.pid}`,
        count: 0,
        writeOk: true,
        errorAh: undefined,
        end: true,
      });
      expect(await readCounter(diskPath)).toBe(1);

      const second = await bootOnce(2);
      expect(second.count).toBe(1);
      expect(second.writeOk).toBe(true);
      expect(await readCounter(diskPath)).toBe(2);
    },
    TEST_TIMEOUT_MS,
  );
});
