/**
 * Client packets assembled byte by byte (deliberately not with encodeDhcp) from the measured boot-chain facts:
 * QEMU 7.2 + SeaBIOS/OVMF + Debian iPXE 1.0.0+git-20190125. The `constructed-*.hex` files beside this are these
 * bytes; the fixture spec checks they stay identical.
 */

const MAC = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
/** `-uuid 00d15000-0000-4000-8000-525400123456`, in SMBIOS byte order (first three fields little-endian). */
export const FIXTURE_UUID = '00d15000-0000-4000-8000-525400123456';
const UUID_WIRE = [0x00, 0x50, 0xd1, 0x00, 0x00, 0x00, 0x00, 0x40, 0x80, 0x00, ...MAC];
export const FIXTURE_MAC = '52:54:00:12:34:56';

const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));
const opt = (code: number, data: number[]): number[] => [code, data.length, ...data];
const ip = (s: string): number[] => s.split('.').map(Number);

interface Header {
  xid: number;
  flags: number;
  hops?: number;
  ciaddr?: string;
  giaddr?: string;
}

/** BOOTREQUEST header + cookie + options + END, zero-padded to 300 bytes. */
function request(h: Header, options: number[][]): Buffer {
  const bytes: number[] = [1, 1, 6, h.hops ?? 0];
  bytes.push((h.xid >>> 24) & 0xff, (h.xid >>> 16) & 0xff, (h.xid >>> 8) & 0xff, h.xid & 0xff);
  bytes.push(0, 0, (h.flags >>> 8) & 0xff, h.flags & 0xff); // secs = 0, flags
  bytes.push(...ip(h.ciaddr ?? '0.0.0.0'), 0, 0, 0, 0, 0, 0, 0, 0, ...ip(h.giaddr ?? '0.0.0.0'));
  bytes.push(...MAC, ...new Array(10).fill(0)); // chaddr
  bytes.push(...new Array(64 + 128).fill(0)); // sname, file
  bytes.push(0x63, 0x82, 0x53, 0x63);
  for (const o of options) bytes.push(...o);
  bytes.push(0xff);
  while (bytes.length < 300) bytes.push(0);
  return Buffer.from(bytes);
}

/**
 * iPXE feature markers, each `code 01 value` (iPXE include/ipxe/features.h), in the order the notes list them; real
 * iPXE emits them in link-table order (compare the `real-*.hex` captures), which decoding does not depend on.
 */
const IPXE_FEATURES = [
  [0x10, 2],
  [0x11, 1],
  [0x12, 1],
  [0x13, 1],
  [0x15, 1],
  [0x17, 1],
  [0x18, 1],
  [0x19, 1],
  [0x21, 1],
  [0x22, 1],
  [0x27, 1],
  [0x29, 1],
].flatMap(([code, value]) => opt(code, [value]));

const IPXE_ENCAP = opt(175, [
  ...opt(177, [0x01, 0x80, 0x86, 0x10, 0x0e]), // bus-id: PCI 8086:100e (e1000)
  ...opt(235, [1, 0, 0]), // version 1.0.0
  ...IPXE_FEATURES,
]);

const IPXE_PRL = opt(55, [1, 3, 6, 7, 12, 15, 17, 26, 43, 60, 66, 67, 119, 128, 129, 130, 131, 132, 133, 134, 135, 175, 203]);

/** Path A step 1: QEMU's iPXE NIC ROM under SeaBIOS, DHCPDISCOVER, flags 0, options in the measured order. */
export function biosIpxeRomDiscover(flags = 0x0000): Buffer {
  return request({ xid: 0x5a1e0c01, flags }, [
    opt(53, [1]),
    opt(57, [0x05, 0xc0]), // 1472
    opt(93, [0x00, 0x00]),
    opt(94, [1, 2, 1]),
    opt(60, ascii('PXEClient:Arch:00000:UNDI:002001')),
    opt(77, ascii('iPXE')),
    IPXE_PRL,
    IPXE_ENCAP,
    opt(61, [0x01, ...MAC]),
    opt(97, [0x00, ...UUID_WIRE]),
  ]);
}

/** Path A step 3: the DHCPREQUEST that follows, with 54 and 50 added. */
export function biosIpxeRomRequest(): Buffer {
  return request({ xid: 0x5a1e0c01, flags: 0 }, [
    opt(53, [3]),
    opt(57, [0x05, 0xc0]),
    opt(93, [0x00, 0x00]),
    opt(94, [1, 2, 1]),
    opt(60, ascii('PXEClient:Arch:00000:UNDI:002001')),
    opt(77, ascii('iPXE')),
    IPXE_PRL,
    opt(54, ip('10.213.0.1')),
    opt(50, ip('10.213.0.150')),
    IPXE_ENCAP,
    opt(61, [0x01, ...MAC]),
    opt(97, [0x00, ...UUID_WIRE]),
  ]);
}

/** Path B: chainloaded undionly.kpxe — as path A but with the broadcast flag. */
export function undionlyDiscover(): Buffer {
  return biosIpxeRomDiscover(0x8000);
}

/** Path C step 1: OVMF's own PXE (no NIC ROM), DHCPDISCOVER, flags 0x8000, no 61/77/175. */
export function ovmfPxeDiscover(): Buffer {
  return request({ xid: 0x0b0f1ce5, flags: 0x8000 }, [
    opt(53, [1]),
    opt(57, [0x05, 0xc0]),
    opt(
      55,
      [1, 2, 3, 4, 5, 6, 12, 13, 15, 17, 18, 22, 23, 28, 40, 41, 42, 43, 50, 51, 54, 58, 59, 60, 66, 67, 97, 128, 129, 130, 131, 132, 133, 134, 135],
    ),
    opt(97, [0x00, ...UUID_WIRE]),
    opt(94, [1, 3, 0]),
    opt(93, [0x00, 0x07]),
    opt(60, ascii('PXEClient:Arch:00007:UNDI:003000')),
  ]);
}

/** OVMF's DHCPREQUEST (57 = 65280, 50, 54) after passing a relay agent that added option 82 (RFC 3046). */
export function relayedOvmfRequest(): Buffer {
  return request({ xid: 0x0b0f1ce5, flags: 0x8000, hops: 1, giaddr: '10.20.0.1' }, [
    opt(53, [3]),
    opt(57, [0xff, 0x00]),
    opt(50, ip('10.20.0.123')),
    opt(54, ip('10.213.0.1')),
    opt(97, [0x00, ...UUID_WIRE]),
    opt(94, [1, 3, 0]),
    opt(93, [0x00, 0x07]),
    opt(60, ascii('PXEClient:Arch:00007:UNDI:003000')),
    opt(82, [...opt(1, ascii('ge-0/0/7')), ...opt(2, MAC)]),
  ]);
}

/** Every constructed fixture, by the `.hex` file name that holds it. */
export const CONSTRUCTED: Readonly<Record<string, () => Buffer>> = {
  'constructed-bios-ipxe-rom-discover.hex': biosIpxeRomDiscover,
  'constructed-bios-ipxe-rom-request.hex': biosIpxeRomRequest,
  'constructed-bios-undionly-discover.hex': undionlyDiscover,
  'constructed-ovmf-pxe-discover.hex': ovmfPxeDiscover,
  'constructed-relayed-ovmf-request-opt82.hex': relayedOvmfRequest,
};

/** Formats bytes as the fixture files do: 16 space-separated hex bytes per line. */
export function toHexText(buf: Buffer): string {
  const lines: string[] = [];
  for (let i = 0; i < buf.length; i += 16) {
    lines.push([...buf.subarray(i, i + 16)].map((b) => b.toString(16).padStart(2, '0')).join(' '));
  }
  return `${lines.join('\n')}\n`;
}
