import { MalformedPacketError } from '../malformed-packet.error';
import { decodeDhcp, DhcpPacket } from './dhcp.codec';
import { DhcpMessageType, PxeArch } from './dhcp.constants';
import { classifyClient, firmwarePathOf, formatMac, parseUserClass, pickBootFile, uuidFromSmbiosBytes, uuidToSmbiosBytes } from './pxe';
import { biosIpxeRomDiscover, FIXTURE_MAC, FIXTURE_UUID, ovmfPxeDiscover, relayedOvmfRequest } from './__fixtures__/constructed-packets';

const choices = { biosLoader: 'undionly.kpxe', efiLoader: 'ipxe.efi', scriptUrl: 'http://10.213.0.1:8080/boot.ipxe' };

function withOptions(pkt: DhcpPacket, edit: (o: Map<number, Buffer>) => void): DhcpPacket {
  const options = new Map(pkt.options);
  edit(options);
  return { ...pkt, options };
}

describe('option 97 UUID byte order (SMBIOS: first three fields little-endian)', () => {
  const wire = Buffer.from('0050d100000000408000525400123456', 'hex');

  it('reads 00 50 d1 00 00 00 00 40 80 00 … as 00d15000-0000-4000-8000-…', () => {
    expect(uuidFromSmbiosBytes(wire)).toBe('00d15000-0000-4000-8000-525400123456');
  });

  it('writes the canonical string back in SMBIOS order', () => {
    expect(uuidToSmbiosBytes('00d15000-0000-4000-8000-525400123456')).toEqual(wire);
    const any = '01234567-89ab-cdef-0123-456789abcdef';
    expect(uuidToSmbiosBytes(any).toString('hex')).toBe('67452301ab89efcd0123456789abcdef');
    expect(uuidFromSmbiosBytes(uuidToSmbiosBytes(any))).toBe(any);
    expect(() => uuidToSmbiosBytes('nope')).toThrow(RangeError);
  });
});

describe('classifyClient', () => {
  it('classifies the BIOS iPXE ROM DISCOVER', () => {
    const info = classifyClient(decodeDhcp(biosIpxeRomDiscover()));
    expect(info).toMatchObject({
      mac: FIXTURE_MAC,
      xid: 0x5a1e0c01,
      messageType: DhcpMessageType.DISCOVER,
      isPxe: true,
      arch: PxeArch.BIOS_X86,
      isIpxe: true,
      uuid: FIXTURE_UUID,
      requestedIp: null,
      serverId: null,
      hostname: null,
      vendorClass: 'PXEClient:Arch:00000:UNDI:002001',
      userClass: ['iPXE'],
      relayed: false,
      maxMessageSize: 1472,
      relayAgentInfo: null,
    });
    expect(info.clientId).toEqual(Buffer.from('01525400123456', 'hex'));
    expect(info.paramRequestList).toHaveLength(23);
  });

  it('classifies OVMF HTTP boot (option 60 "HTTPClient", arch 16) as an HTTP client, not PXE', () => {
    const pkt = withOptions(decodeDhcp(ovmfPxeDiscover()), (o) => {
      o.set(60, Buffer.from('HTTPClient:Arch:00016:UNDI:003001', 'ascii'));
      o.set(93, Buffer.from([0x00, 0x10]));
    });
    expect(classifyClient(pkt)).toMatchObject({ isPxe: false, isHttpClient: true, isIpxe: false, arch: PxeArch.EFI_X64_HTTP });
    expect(classifyClient(decodeDhcp(ovmfPxeDiscover())).isHttpClient).toBe(false);
  });

  it('classifies OVMF plain PXE as PXE, arch 7, not iPXE', () => {
    const info = classifyClient(decodeDhcp(ovmfPxeDiscover()));
    expect(info).toMatchObject({
      isPxe: true,
      isIpxe: false,
      arch: 7,
      uuid: FIXTURE_UUID,
      clientId: null,
      userClass: null,
    });
  });

  it('classifies a relayed REQUEST', () => {
    const info = classifyClient(decodeDhcp(relayedOvmfRequest()));
    expect(info).toMatchObject({
      messageType: DhcpMessageType.REQUEST,
      relayed: true,
      requestedIp: '10.20.0.123',
      serverId: '10.213.0.1',
      maxMessageSize: 65280,
    });
    expect(info.relayAgentInfo!.subarray(0, 2)).toEqual(Buffer.from([1, 8]));
  });

  it('recognises iPXE by RFC 3004 user class, by option 175 alone, and not by other classes', () => {
    const base = decodeDhcp(ovmfPxeDiscover());
    const rfc3004 = withOptions(base, (o) => o.set(77, Buffer.from('\x04iPXE\x03foo', 'latin1')));
    expect(classifyClient(rfc3004)).toMatchObject({ isIpxe: true, userClass: ['iPXE', 'foo'] });
    const encapOnly = withOptions(base, (o) => o.set(175, Buffer.from([0x13, 1, 1])));
    expect(classifyClient(encapOnly).isIpxe).toBe(true);
    const other = withOptions(base, (o) => o.set(77, Buffer.from('gPXE')));
    expect(classifyClient(other)).toMatchObject({ isIpxe: false, userClass: ['gPXE'] });
    expect(classifyClient(withOptions(base, (o) => o.set(77, Buffer.from('iPXE-x')))).isIpxe).toBe(false);
  });

  it('is not PXE without a PXEClient vendor class', () => {
    const pkt = withOptions(decodeDhcp(ovmfPxeDiscover()), (o) => o.set(60, Buffer.from('MSFT 5.0')));
    expect(classifyClient(pkt)).toMatchObject({ isPxe: false, vendorClass: 'MSFT 5.0' });
  });

  it('gives a null MAC for non-Ethernet hardware and a null UUID for a non-RFC 4578 option 97', () => {
    const pkt = decodeDhcp(ovmfPxeDiscover());
    expect(classifyClient({ ...pkt, htype: 6 }).mac).toBeNull();
    expect(classifyClient({ ...pkt, hlen: 8 }).mac).toBeNull();
    expect(classifyClient(withOptions(pkt, (o) => o.set(97, Buffer.alloc(16)))).uuid).toBeNull();
    expect(classifyClient(withOptions(pkt, (o) => o.set(97, Buffer.alloc(17, 1)))).uuid).toBeNull();
  });

  it('returns a null message type for BOOTP and unknown types', () => {
    const pkt = decodeDhcp(ovmfPxeDiscover());
    expect(classifyClient(withOptions(pkt, (o) => o.delete(53))).messageType).toBeNull();
    expect(classifyClient(withOptions(pkt, (o) => o.set(53, Buffer.from([9])))).messageType).toBeNull();
  });

  it.each([53, 50, 54, 57, 93])('throws MalformedPacketError for a malformed option %i', (code) => {
    const pkt = withOptions(decodeDhcp(ovmfPxeDiscover()), (o) => o.set(code, Buffer.from([1, 2, 3])));
    expect(() => classifyClient(pkt)).toThrow(MalformedPacketError);
  });

  it('formats MACs lower-case with colons', () => {
    expect(formatMac(Buffer.from([0xaa, 0xbb, 0xcc, 0x0d, 0xee, 0xff, 1, 2]))).toBe('aa:bb:cc:0d:ee:ff');
  });

  it('parses user classes both ways', () => {
    expect(parseUserClass(Buffer.from('iPXE'))).toEqual(['iPXE']);
    expect(parseUserClass(Buffer.from('\x04iPXE', 'latin1'))).toEqual(['iPXE']);
    expect(parseUserClass(Buffer.from('\x05iPXE', 'latin1'))).toEqual(['\x05iPXE']);
  });
});

describe('pickBootFile', () => {
  it.each<[number | null, boolean, string | null]>([
    [0, true, choices.scriptUrl],
    [7, true, choices.scriptUrl],
    [null, true, choices.scriptUrl],
    [0, false, 'undionly.kpxe'],
    [6, false, 'ipxe.efi'],
    [7, false, 'ipxe.efi'],
    [9, false, 'ipxe.efi'],
    [15, false, 'ipxe.efi'],
    [16, false, 'ipxe.efi'],
    [19, false, null],
    [20, false, null],
    [11, false, null],
    [2, false, null],
    [null, false, null],
  ])('arch %p, iPXE %p → %p', (arch, isIpxe, expected) => {
    expect(pickBootFile(arch, isIpxe, choices)).toBe(expected);
  });
});

describe('firmwarePathOf', () => {
  it.each<[number | null, boolean, string | null]>([
    [0, false, 'bios-pxe'],
    [7, false, 'uefi-pxe'],
    [9, false, 'uefi-pxe'],
    [16, true, 'uefi-http'],
    [15, true, 'uefi-http'],
    [19, true, 'uefi-http'], // HTTP boot whatever the CPU: DLS may have no loader for it, but that is what it did
    [11, false, null],
    [null, false, null],
  ])('arch %p, HTTPClient %p → %p', (arch, isHttpClient, expected) => {
    expect(firmwarePathOf({ arch, isHttpClient })).toBe(expected);
  });
});
