/**
 * Reads the headers of a PE/COFF image (Microsoft PE/COFF specification, as UEFI uses it for its programs) far enough
 * to tell what a file offered as a Secure Boot loader is: an EFI application or not, for which CPU, and whether it
 * carries an Authenticode signature (a WIN_CERTIFICATE of type PKCS#7 signed data in the certificate table). It does
 * not verify the signature: the firmware does, against its own db; DLS only refuses what no firmware could start.
 */

/** Why a byte string is not a PE image this reader accepts; `reason` says what is wrong, in words. */
export class PeImageError extends Error {
  constructor(readonly reason: string) {
    super(`not an EFI program: ${reason}`);
    this.name = 'PeImageError';
  }
}

/** The CPUs UEFI Secure Boot loaders exist for, by COFF machine type. */
export type EfiPlatform = 'x64' | 'arm64' | 'ia32';

const MACHINES: ReadonlyMap<number, EfiPlatform> = new Map([
  [0x8664, 'x64'],
  [0xaa64, 'arm64'],
  [0x014c, 'ia32'],
]);

/** Optional-header subsystems (PE/COFF "Windows Subsystem"): only an application is something firmware boots. */
export const EFI_APPLICATION = 10;
const SUBSYSTEMS: ReadonlyMap<number, string> = new Map([
  [10, 'EFI application'],
  [11, 'EFI boot service driver'],
  [12, 'EFI runtime driver'],
  [13, 'EFI ROM'],
]);

const PE32 = 0x10b;
const PE32_PLUS = 0x20b;
const SECURITY_DIRECTORY = 4;
const WIN_CERT_TYPE_PKCS_SIGNED_DATA = 0x0002;
const WIN_CERT_REVISION_2_0 = 0x0200;

/** What {@link readPeImage} found. */
export interface PeImageInfo {
  /** The CPU, or null for a machine type no UEFI Secure Boot loader is built for. */
  platform: EfiPlatform | null;
  machine: number;
  subsystem: number;
  /** Subsystem 10: an EFI application (what a firmware boot manager starts). */
  efiApplication: boolean;
  /** Its certificate table holds at least one Authenticode (PKCS#7) signature. */
  signed: boolean;
}

function need(buf: Buffer, end: number, what: string): void {
  if (end > buf.length) throw new PeImageError(`the file ends before its ${what} (${buf.length} bytes)`);
}

/** The signatures of a certificate table: each WIN_CERTIFICATE entry is 8-byte aligned (PE/COFF "The Attribute Certificate Table"). */
function hasAuthenticode(buf: Buffer, offset: number, size: number): boolean {
  if (size === 0 || offset === 0) return false;
  if (offset + size > buf.length || size < 8) throw new PeImageError('its certificate table lies outside the file');
  let at = offset;
  const end = offset + size;
  while (at + 8 <= end) {
    const length = buf.readUInt32LE(at);
    if (length < 8 || at + length > end) throw new PeImageError('a certificate entry has a length outside its table');
    if (buf.readUInt16LE(at + 4) === WIN_CERT_REVISION_2_0 && buf.readUInt16LE(at + 6) === WIN_CERT_TYPE_PKCS_SIGNED_DATA) return true;
    at += (length + 7) & ~7;
  }
  return false;
}

/** The headers of a PE image; throws {@link PeImageError} for anything else (never another error). */
export function readPeImage(buf: Buffer): PeImageInfo {
  need(buf, 64, 'DOS header');
  if (buf.readUInt16LE(0) !== 0x5a4d) throw new PeImageError('it does not start with "MZ"');
  const pe = buf.readUInt32LE(0x3c);
  need(buf, pe + 24, 'PE header');
  if (buf.readUInt32LE(pe) !== 0x00004550) throw new PeImageError('no "PE" signature where its DOS header points');
  const machine = buf.readUInt16LE(pe + 4);
  const optionalSize = buf.readUInt16LE(pe + 20);
  const opt = pe + 24;
  need(buf, opt + 2, 'optional header');
  const magic = buf.readUInt16LE(opt);
  if (magic !== PE32 && magic !== PE32_PLUS) throw new PeImageError(`unknown optional header magic 0x${magic.toString(16)}`);
  const dirs = magic === PE32_PLUS ? 112 : 96;
  if (optionalSize < dirs) throw new PeImageError('its optional header is too short');
  need(buf, opt + dirs, 'optional header');
  const subsystem = buf.readUInt16LE(opt + 68);
  const dirCount = buf.readUInt32LE(opt + dirs - 4);
  let signed = false;
  if (dirCount > SECURITY_DIRECTORY && optionalSize >= dirs + 8 * (SECURITY_DIRECTORY + 1)) {
    const entry = opt + dirs + 8 * SECURITY_DIRECTORY;
    need(buf, entry + 8, 'data directories');
    // The security directory holds a file offset (not an address once loaded) and a size.
    signed = hasAuthenticode(buf, buf.readUInt32LE(entry), buf.readUInt32LE(entry + 4));
  }
  return {
    platform: MACHINES.get(machine) ?? null,
    machine,
    subsystem,
    efiApplication: subsystem === EFI_APPLICATION,
    signed,
  };
}

/** Words for a subsystem number, for error messages. */
export function subsystemName(subsystem: number): string {
  return SUBSYSTEMS.get(subsystem) ?? `subsystem ${subsystem} (not an EFI program)`;
}
