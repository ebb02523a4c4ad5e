/**
 * QEMU PXE client for the boot lab: one VM per MAC, network-booting through its NIC's iPXE ROM on a tap in the lab
 * bridge. Runs under TCG (this host's /dev/kvm is kvm_pvm: SeaBIOS is ~25× slower and OVMF crashes under it).
 *
 * Output files in `logDir`:
 * - `vm-<machex>.com1.log`: COM1 (the payload's `DLS-*` lines; under OVMF also the firmware console with ANSI escapes)
 * - `vm-<machex>.console.log`: COM2, BIOS only: SeaBIOS "sercon" mirror of the screen (SeaBIOS + iPXE messages).
 *   Mirroring to COM1 would garble the payload's direct UART writes.
 * - `vm-<machex>.qemu.log`: QEMU's own stdout/stderr (QEMU never inherits the caller's stdio)
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Lab, LabProcess, MAC_PATTERN } from './netns';

/** `uefi-secure`: OVMF with Secure Boot on and Microsoft's keys enrolled (Debian's `.ms` code and vars, SMM). */
export type Firmware = 'bios' | 'uefi' | 'uefi-secure';
export type NicModel = 'e1000' | 'virtio-net-pci' | 'rtl8139' | 'e1000e';

/** Debian `ovmf` package files (4 MiB flash layout). */
export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
export const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';
/** A virtio-net NIC without QEMU's iPXE option ROM: OVMF's own network boot (PXE, HTTP boot) runs instead. */
export const VIRTIO_NO_NIC_ROM = ['-global', 'virtio-net-pci.romfile='];
/**
 * OVMF's PXE boot options off (the fw_cfg knobs Debian's OVMF reads, OvmfPkg RUNTIME_CONFIG.md), leaving its HTTP
 * boot: otherwise OVMF tries PXE first and reaches HTTP boot only after its PXE attempts time out (75–170 s, TCG).
 */
export const OVMF_PXE_OFF = [
  '-fw_cfg',
  'name=opt/org.tianocore/IPv4PXESupport,string=n',
  '-fw_cfg',
  'name=opt/org.tianocore/IPv6PXESupport,string=n',
];
/** Only OVMF's PXE over IPv6 off: after a PXEv4 attempt it goes on to HTTP boot, not to IPv6. */
export const OVMF_IPV6_PXE_OFF = ['-fw_cfg', 'name=opt/org.tianocore/IPv6PXESupport,string=n'];
/** Secure Boot build (needs SMM and a secure flash) and vars with Microsoft's KEK/db enrolled and Secure Boot on. */
export const OVMF_CODE_SECURE = '/usr/share/OVMF/OVMF_CODE_4M.ms.fd';
export const OVMF_VARS_SECURE = '/usr/share/OVMF/OVMF_VARS_4M.ms.fd';
/** I/O port of COM2, given to SeaBIOS as its sercon port (fw_cfg `etc/sercon-port`, u16 little-endian). */
const COM2_PORT = 0x2f8;
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const POLL_MS = 100;

export interface BootClientOptions {
  mac: string;
  firmware: Firmware;
  nic: NicModel;
  /** Default 64 (BIOS) / 256 (UEFI). */
  memoryMb?: number;
  /** Where the serial/console/QEMU logs go (created). */
  logDir: string;
  /** Hard cap on the VM's life: it is killed after this many ms (default 120 s). */
  timeoutMs?: number;
  /** SMBIOS UUID; default derived from the MAC (see uuidForMac) so iPXE initiator names differ per client. */
  uuid?: string;
  /** Extra QEMU argv appended at the end (e.g. `['-global', 'e1000.romfile=']`). */
  extraArgs?: string[];
  /**
   * Scheduling niceness of QEMU (its threads and its session's autogroup), e.g. 19: a PC on its own hardware, which
   * does not take the boot server's CPU. Default: unchanged (QEMU competes with the server as an equal).
   */
  nice?: number;
}

export interface WaitResult {
  /** The regex match against the (ANSI-stripped) COM1 text. */
  match: RegExpExecArray;
  /** ms from QEMU spawn to when the marker was seen (polling granularity 100 ms). */
  elapsedMs: number;
}

export interface QemuClient {
  pid: number;
  mac: string;
  tap: string;
  uuid: string;
  com1Path: string;
  consolePath?: string;
  qemuLogPath: string;
  /** Resolves when COM1 matches `re`; rejects on timeout or when QEMU exits first. */
  waitFor(re: RegExp, timeoutMs: number): Promise<WaitResult>;
  /** COM1 text with ANSI escapes removed. */
  serialText(): string;
  /** COM2 (sercon screen mirror, BIOS) text with ANSI escapes removed; '' for UEFI. */
  consoleText(): string;
  /** QEMU's own stdout/stderr. */
  qemuLog(): string;
  /** ms since spawn. */
  elapsedMs(): number;
  /** Kills QEMU (SIGKILL to its process group) and waits for it to exit. */
  kill(): Promise<void>;
  exited: Promise<number | null>;
}

/** `52:54:00:12:34:56` → `00d15000-0000-4000-8000-525400123456`. */
export function uuidForMac(mac: string): string {
  if (!MAC_PATTERN.test(mac)) throw new Error(`bad MAC ${JSON.stringify(mac)}`);
  return `00d15000-0000-4000-8000-${mac.replace(/:/g, '').toLowerCase()}`;
}

/** Removes ANSI/VT100 escape sequences (OVMF's console on COM1 is full of them). */
export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\x1b[=>cDEHM78]/g, '');
}

function readText(path: string | undefined): string {
  if (!path) return '';
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return '';
  }
}

/** Builds the QEMU argv (exported so tests/docs can show the exact command line). */
export function qemuArgs(o: {
  firmware: Firmware;
  nic: NicModel;
  mac: string;
  tap: string;
  uuid: string;
  memoryMb: number;
  com1Path: string;
  consolePath?: string;
  serconFile?: string;
  varsPath?: string;
  extraArgs?: string[];
}): string[] {
  const args = [
    'qemu-system-x86_64',
    '-machine',
    o.firmware === 'uefi' ? 'q35' : o.firmware === 'uefi-secure' ? 'q35,smm=on' : 'pc',
    '-accel',
    'tcg',
    '-smp',
    '1',
    '-m',
    String(o.memoryMb),
    '-nodefaults',
    '-vga',
    'std',
    '-display',
    'none',
    '-monitor',
    'none',
    '-boot',
    'n',
    '-netdev',
    `tap,id=n0,ifname=${o.tap},script=no,downscript=no`,
    '-device',
    `${o.nic},netdev=n0,mac=${o.mac},bootindex=1`,
    '-uuid',
    o.uuid,
    '-serial',
    `file:${o.com1Path}`,
  ];
  if (o.firmware === 'bios' && o.consolePath && o.serconFile) {
    args.push('-serial', `file:${o.consolePath}`, '-fw_cfg', `name=etc/sercon-port,file=${o.serconFile}`);
  }
  if (o.firmware === 'uefi' || o.firmware === 'uefi-secure') {
    const code = o.firmware === 'uefi' ? OVMF_CODE : OVMF_CODE_SECURE;
    // The Secure Boot build keeps its variables behind SMM: the flash must be writable only from SMM.
    if (o.firmware === 'uefi-secure') args.push('-global', 'driver=cfi.pflash01,property=secure,value=on');
    args.push('-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${code}`, '-drive', `if=pflash,format=raw,unit=1,file=${o.varsPath}`);
  }
  args.push('-no-reboot', ...(o.extraArgs ?? []));
  return args;
}

/**
 * Starts a network-booting VM inside the lab namespace. The tap is created (idempotently) from the MAC.
 * Timing starts right before the spawn; `waitFor()` reports time-to-marker from there.
 */
export async function bootClient(lab: Lab, opts: BootClientOptions): Promise<QemuClient> {
  const mac = opts.mac.toLowerCase();
  if (!MAC_PATTERN.test(mac)) throw new Error(`bad MAC ${JSON.stringify(opts.mac)}`);
  const uuid = opts.uuid ?? uuidForMac(mac);
  if (!UUID_PATTERN.test(uuid)) throw new Error(`bad UUID ${uuid}`);
  const hex = mac.replace(/:/g, '');
  mkdirSync(opts.logDir, { recursive: true });
  const tap = await lab.addTap(mac);
  const com1Path = join(opts.logDir, `vm-${hex}.com1.log`);
  const qemuLogPath = join(opts.logDir, `vm-${hex}.qemu.log`);
  writeFileSync(com1Path, '');
  let consolePath: string | undefined;
  let serconFile: string | undefined;
  let varsPath: string | undefined;
  if (opts.firmware === 'bios') {
    consolePath = join(opts.logDir, `vm-${hex}.console.log`);
    serconFile = join(opts.logDir, `vm-${hex}.sercon-port.bin`);
    const port = Buffer.alloc(2);
    port.writeUInt16LE(COM2_PORT, 0);
    writeFileSync(serconFile, port);
    writeFileSync(consolePath, '');
  } else {
    varsPath = join(opts.logDir, `vm-${hex}.OVMF_VARS.fd`);
    copyFileSync(opts.firmware === 'uefi-secure' ? OVMF_VARS_SECURE : OVMF_VARS, varsPath);
  }
  const argv = qemuArgs({
    firmware: opts.firmware,
    nic: opts.nic,
    mac,
    tap,
    uuid,
    memoryMb: opts.memoryMb ?? (opts.firmware === 'bios' ? 64 : 256),
    com1Path,
    consolePath,
    serconFile,
    varsPath,
    extraArgs: opts.extraArgs,
  });
  writeFileSync(qemuLogPath, `${argv.join(' ')}\n`);
  const startedAt = performance.now();
  const proc: LabProcess = lab.spawn(opts.nice === undefined ? argv : ['nice', '-n', String(opts.nice), ...argv], { logFile: qemuLogPath });
  if (opts.nice !== undefined) {
    // The lab starts each process in its own session, and with autogroup scheduling (most distributions) a session
    // competes as a whole, whatever its threads' nice: its autogroup's nice is what counts.
    try {
      writeFileSync(`/proc/${proc.pid}/autogroup`, String(opts.nice));
    } catch {
      // no autogroup scheduling: the threads' nice is enough
    }
  }
  let exitedFlag = false;
  void proc.exited.then(() => {
    exitedFlag = true;
  });
  const lifetime = setTimeout(() => proc.kill(), opts.timeoutMs ?? 120_000);
  lifetime.unref();
  void proc.exited.then(() => clearTimeout(lifetime));

  const serialText = (): string => stripAnsi(readText(com1Path));
  const elapsedMs = (): number => performance.now() - startedAt;

  return {
    pid: proc.pid,
    mac,
    tap,
    uuid,
    com1Path,
    consolePath,
    qemuLogPath,
    exited: proc.exited,
    serialText,
    consoleText: () => stripAnsi(readText(consolePath)),
    qemuLog: () => readText(qemuLogPath),
    elapsedMs,
    waitFor(re: RegExp, timeoutMs: number): Promise<WaitResult> {
      const deadline = performance.now() + timeoutMs;
      return new Promise((resolveWait, reject) => {
        const tick = (): void => {
          const m = re.exec(serialText());
          if (m) return resolveWait({ match: m, elapsedMs: elapsedMs() });
          if (exitedFlag || performance.now() > deadline) {
            const why = exitedFlag ? 'QEMU exited' : `timeout after ${timeoutMs} ms`;
            const tail = (s: string): string => s.slice(-1500);
            return reject(
              new Error(
                `${why} waiting for ${re} on ${mac}\n--- COM1 ---\n${tail(serialText())}\n` +
                  `--- console ---\n${tail(stripAnsi(readText(consolePath)))}\n` +
                  `--- qemu ---\n${tail(readText(qemuLogPath))}`,
              ),
            );
          }
          setTimeout(tick, POLL_MS);
        };
        tick();
      });
    },
    async kill(): Promise<void> {
      proc.kill();
      await Promise.race([proc.exited, new Promise((r) => setTimeout(r, 5000))]);
    },
  };
}
