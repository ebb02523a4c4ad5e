import { readFileSync } from 'fs';
import { join } from 'path';
import { decodeDhcp, encodeDhcp } from './dhcp.codec';
import { DhcpMessageType, DhcpOptionCode, PxeArch } from './dhcp.constants';
import { decodeSubOptions, getIp, getIps, getString, getU32, getU8 } from './dhcp.options';
import { buildReply, replyDestination } from './dhcp.reply';
import { classifyClient, pickBootFile } from './pxe';
import { CONSTRUCTED, FIXTURE_MAC, FIXTURE_UUID, toHexText } from './__fixtures__/constructed-packets';
import { loadHexFixtures } from './__fixtures__/hex-fixtures';

const FIXTURE_DIR = join(__dirname, '__fixtures__');
const fixtures = loadHexFixtures(FIXTURE_DIR);

describe('hex fixtures (constructed and any real captures in __fixtures__/)', () => {
  it('include every constructed packet', () => {
    const names = fixtures.map((f) => f.name);
    for (const name of Object.keys(CONSTRUCTED)) expect(names).toContain(name);
  });

  it.each(fixtures.map((f) => [f.name, f.bytes] as const))('%s decodes, classifies and round-trips', (_name, bytes) => {
    const pkt = decodeDhcp(bytes);
    expect([1, 2]).toContain(pkt.op);
    const info = classifyClient(pkt);
    expect(info.xid).toBe(pkt.xid);
    expect(decodeDhcp(encodeDhcp(pkt))).toEqual(pkt);
  });

  /**
   * Captures that come as request/reply pairs (`X-discover.hex` + `X-offer.hex`, `X-request.hex` + `X-ack.hex`, as
   * recorded against the lab's dnsmasq) must get the same answer from us: same boot file choice, same iPXE 175.176,
   * same echoed header fields. Vacuous when no such pairs are present.
   */
  it('answers real captured requests the way the lab dnsmasq did', () => {
    const byName = new Map(fixtures.map((f) => [f.name, f.bytes]));
    const pairs: Array<[string, string]> = [];
    for (const name of byName.keys()) {
      if (name.startsWith('constructed-')) continue;
      for (const [ask, answer] of [
        ['-discover.hex', '-offer.hex'],
        ['-request.hex', '-ack.hex'],
      ]) {
        const replyName = name.slice(0, -ask.length) + answer;
        if (name.endsWith(ask) && byName.has(replyName)) pairs.push([name, replyName]);
      }
    }
    for (const [reqName, replyName] of pairs) {
      const req = decodeDhcp(byName.get(reqName)!);
      const real = decodeDhcp(byName.get(replyName)!);
      const serverId = getIp(real.options, DhcpOptionCode.SERVER_ID)!;
      const info = classifyClient(req);
      const bootFile = pickBootFile(info.arch, info.isIpxe, {
        biosLoader: 'undionly.kpxe',
        efiLoader: 'ipxe.efi',
        scriptUrl: `http://${serverId}:8080/boot.ipxe`,
      });
      const ours = buildReply(req, {
        messageType: getU8(real.options, DhcpOptionCode.MESSAGE_TYPE) as DhcpMessageType.OFFER | DhcpMessageType.ACK,
        serverId,
        yiaddr: real.yiaddr,
        siaddr: real.siaddr,
        leaseSeconds: getU32(real.options, DhcpOptionCode.LEASE_TIME)!,
        subnetMask: getIp(real.options, DhcpOptionCode.SUBNET_MASK)!,
        routers: getIps(real.options, DhcpOptionCode.ROUTER)!,
        bootFile,
      });
      const label = `${reqName} → ${replyName}`;
      expect({ label, bootFile }).toEqual({ label, bootFile: getString(real.options, DhcpOptionCode.BOOTFILE_NAME) });
      for (const field of ['op', 'xid', 'flags', 'yiaddr', 'siaddr', 'giaddr', 'ciaddr'] as const) {
        expect({ label, field, value: ours[field] }).toEqual({ label, field, value: real[field] });
      }
      expect(ours.chaddr).toEqual(real.chaddr);
      for (const code of [51, 58, 59, 1, 3]) expect(ours.options.get(code)).toEqual(real.options.get(code));
      const noPxeDhcp = (pkt: typeof ours) =>
        pkt.options.has(DhcpOptionCode.IPXE_ENCAP) ? decodeSubOptions(pkt.options.get(DhcpOptionCode.IPXE_ENCAP)!).get(176) : undefined;
      expect({ label, v: noPxeDhcp(ours) }).toEqual({ label, v: noPxeDhcp(real) });
      expect(replyDestination(req, ours).address).toBe('255.255.255.255');
    }
  });
});

describe('constructed fixtures match the measured client behaviour', () => {
  it.each(Object.entries(CONSTRUCTED))('%s on disk equals its byte-by-byte construction', (name, build) => {
    expect(readFileSync(join(FIXTURE_DIR, name), 'utf8')).toBe(toHexText(build()));
  });

  const decoded = (name: string) => decodeDhcp(fixtures.find((f) => f.name === name)!.bytes);

  it('BIOS iPXE ROM DISCOVER: option order, bare user class, 175 contents', () => {
    const pkt = decoded('constructed-bios-ipxe-rom-discover.hex');
    expect([...pkt.options.keys()]).toEqual([53, 57, 93, 94, 60, 77, 55, 175, 61, 97]);
    expect(pkt.flags).toBe(0);
    expect(pkt.options.get(77)).toEqual(Buffer.from('iPXE'));
    const encap = decodeSubOptions(pkt.options.get(175)!);
    expect(encap.get(177)).toEqual(Buffer.from([1, 0x80, 0x86, 0x10, 0x0e]));
    expect(encap.get(235)).toEqual(Buffer.from([1, 0, 0]));
    expect(encap.get(0x10)).toEqual(Buffer.from([2]));
    expect(pkt.options.get(97)!.subarray(0, 5)).toEqual(Buffer.from([0x00, 0x00, 0x50, 0xd1, 0x00]));
    expect(classifyClient(pkt)).toMatchObject({
      mac: FIXTURE_MAC,
      uuid: FIXTURE_UUID,
      arch: PxeArch.BIOS_X86,
      isIpxe: true,
      isPxe: true,
      messageType: DhcpMessageType.DISCOVER,
    });
  });

  it('iPXE REQUEST carries 54 and 50', () => {
    const info = classifyClient(decoded('constructed-bios-ipxe-rom-request.hex'));
    expect(info).toMatchObject({
      messageType: DhcpMessageType.REQUEST,
      serverId: '10.213.0.1',
      requestedIp: '10.213.0.150',
    });
  });

  it('undionly DISCOVER sets the broadcast flag and is otherwise the ROM DISCOVER', () => {
    const undi = decoded('constructed-bios-undionly-discover.hex');
    const rom = decoded('constructed-bios-ipxe-rom-discover.hex');
    expect(undi.flags).toBe(0x8000);
    expect({ ...undi, flags: 0 }).toEqual(rom);
  });

  it('OVMF plain PXE DISCOVER: arch 7, UNDI 3.0, no 61/77/175', () => {
    const pkt = decoded('constructed-ovmf-pxe-discover.hex');
    expect([...pkt.options.keys()]).toEqual([53, 57, 55, 97, 94, 93, 60]);
    expect(pkt.options.get(94)).toEqual(Buffer.from([1, 3, 0]));
    expect(classifyClient(pkt)).toMatchObject({ arch: PxeArch.EFI_BC, isIpxe: false, isPxe: true, uuid: FIXTURE_UUID });
  });

  it('relayed REQUEST: giaddr, hops and option 82 last', () => {
    const pkt = decoded('constructed-relayed-ovmf-request-opt82.hex');
    expect(pkt).toMatchObject({ giaddr: '10.20.0.1', hops: 1 });
    expect([...pkt.options.keys()].pop()).toBe(82);
    expect(decodeSubOptions(pkt.options.get(82)!).get(1)!.toString()).toBe('ge-0/0/7');
  });
});
