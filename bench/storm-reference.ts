/**
 * The reference stack of the boot-storm benchmark: test/lab/reference-stack.ts (dnsmasq + static HTTP script +
 * tgtd, one lab namespace) with one iSCSI target per MAC, each on its own copy of the disk — what a hand-built boot
 * server gives a room where every PC writes to its own disk. The one script serves all: iPXE expands `${mac:hexhyp}`
 * into the target name. No CHAP (the reference `bench:boot` compares against has none either).
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Lab } from '../test/lab/netns';
import { REFERENCE_INITIATOR_PREFIX, ReferenceStack, startReferenceStack } from '../test/lab/reference-stack';

const run = promisify(execFile);
const TARGET_PREFIX = 'iqn.2024-01.lab.dls:mac';

/** Target name of `mac` (what `${mac:hexhyp}` gives iPXE: lower-case hex pairs joined by hyphens). */
export function referenceTargetOf(mac: string): string {
  return `${TARGET_PREFIX}-${mac.toLowerCase().replace(/:/g, '-')}`;
}

export async function startPerMacReference(lab: Lab, o: { diskPath: string; macs: string[]; workDir: string }): Promise<ReferenceStack> {
  mkdirSync(o.workDir, { recursive: true });
  const disks = join(o.workDir, 'disks');
  mkdirSync(disks, { recursive: true });
  const stack = await startReferenceStack(lab, { diskPath: o.diskPath, macs: o.macs, workDir: o.workDir });
  try {
    const tgtadm = (args: string[]): Promise<unknown> =>
      run('tgtadm', ['-C', String(stack.tgtControlPort), '--lld', 'iscsi', ...args], { timeout: 15_000 });
    for (const [i, mac] of o.macs.entries()) {
      const copy = resolve(disks, `${mac.replace(/:/g, '')}.img`);
      copyFileSync(o.diskPath, copy);
      const tid = String(i + 2); // tid 1 is the stack's own shared target
      await tgtadm(['--op', 'new', '--mode', 'target', '--tid', tid, '-T', referenceTargetOf(mac)]);
      await tgtadm(['--op', 'new', '--mode', 'logicalunit', '--tid', tid, '--lun', '1', '-b', copy]);
      await tgtadm(['--op', 'bind', '--mode', 'target', '--tid', tid, '-I', 'ALL']);
    }
    // The stack's HTTP server reads the file per request: replace its shared-target script by the per-MAC one.
    const script = [
      '#!ipxe',
      `set initiator-iqn ${REFERENCE_INITIATOR_PREFIX}:\${mac:hexhyp}`,
      `echo DLS-REF sanboot ${lab.serverIp} \${mac}`,
      `sanboot iscsi:${lab.serverIp}:::1:${TARGET_PREFIX}-\${mac:hexhyp} || goto failed`,
      ':failed',
      'echo DLS-SANBOOT-FAILED',
      'sleep 3600',
      '',
    ].join('\n');
    writeFileSync(join(o.workDir, 'www', 'boot.ipxe'), script);
  } catch (err) {
    await stack.stop();
    throw err;
  }
  const stop = stack.stop;
  return {
    ...stack,
    async stop(): Promise<void> {
      for (let tid = 2; tid < o.macs.length + 2; tid++) {
        await run(
          'tgtadm',
          ['-C', String(stack.tgtControlPort), '--lld', 'iscsi', '--op', 'delete', '--mode', 'target', '--tid', String(tid), '--force'],
          {
            timeout: 15_000,
          },
        ).catch(() => undefined);
      }
      await stop();
    },
  };
}
