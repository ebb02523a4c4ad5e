import { decodeDhcp, DhcpPacket, encodeDhcp } from './dhcp.codec';
import { DhcpMessageType } from './dhcp.constants';
import { decodeSubOptions, getIp, getIps, getString, getU32, getU8 } from './dhcp.options';
import { buildProxyReply, buildReply, DhcpReplyParams, maxReplyLength, replyDestination } from './dhcp.reply';
import { biosIpxeRomDiscover, biosIpxeRomRequest, ovmfPxeDiscover, relayedOvmfRequest, undionlyDiscover } from './__fixtures__/constructed-packets';

const SCRIPT = 'http://10.213.0.1:8080/boot.ipxe';
const offerParams: DhcpReplyParams = {
  messageType: DhcpMessageType.OFFER,
  serverId: '10.213.0.1',
  yiaddr: '10.213.0.150',
  leaseSeconds: 3600,
  subnetMask: '255.255.255.0',
  routers: ['10.213.0.1'],
  dnsServers: ['10.213.0.1', '9.9.9.9'],
  domainName: 'lab.dls',
  hostname: 'pc-01',
  bootFile: SCRIPT,
};

function request(buf: Buffer): DhcpPacket {
  return decodeDhcp(buf);
}

/** Encode and decode, as the client would see it. */
function onWire(pkt: DhcpPacket): DhcpPacket {
  return decodeDhcp(encodeDhcp(pkt));
}

function withOptions(pkt: DhcpPacket, edit: (o: Map<number, Buffer>) => void): DhcpPacket {
  const options = new Map(pkt.options);
  edit(options);
  return { ...pkt, options };
}

describe('buildReply (full DHCP)', () => {
  it('builds an OFFER for the iPXE ROM with every field and option', () => {
    const req = request(biosIpxeRomDiscover());
    const reply = onWire(buildReply(req, offerParams));
    expect(reply).toMatchObject({
      op: 2,
      htype: 1,
      hlen: 6,
      hops: 0,
      xid: req.xid,
      secs: 0,
      flags: 0,
      ciaddr: '0.0.0.0',
      yiaddr: '10.213.0.150',
      siaddr: '10.213.0.1',
      giaddr: '0.0.0.0',
      file: SCRIPT,
      sname: '',
    });
    expect(reply.chaddr).toEqual(req.chaddr);
    const o = reply.options;
    expect([...o.keys()]).toEqual([53, 54, 51, 58, 59, 1, 3, 6, 15, 12, 67, 175]);
    expect(getU8(o, 53)).toBe(DhcpMessageType.OFFER);
    expect(getIp(o, 54)).toBe('10.213.0.1');
    expect(getU32(o, 51)).toBe(3600);
    expect(getU32(o, 58)).toBe(1800);
    expect(getU32(o, 59)).toBe(3150);
    expect(getIp(o, 1)).toBe('255.255.255.0');
    expect(getIps(o, 3)).toEqual(['10.213.0.1']);
    expect(getIps(o, 6)).toEqual(['10.213.0.1', '9.9.9.9']);
    expect(getString(o, 15)).toBe('lab.dls');
    expect(getString(o, 12)).toBe('pc-01');
    expect(getString(o, 67)).toBe(SCRIPT);
    expect(o.get(175)).toEqual(Buffer.from([176, 1, 1]));
    expect(decodeSubOptions(o.get(175)!).get(176)).toEqual(Buffer.from([1]));
  });

  it('rounds T1/T2 down and leaves them out for an infinite lease', () => {
    const req = request(biosIpxeRomDiscover());
    const odd = buildReply(req, { ...offerParams, leaseSeconds: 101 });
    expect(getU32(odd.options, 58)).toBe(50);
    expect(getU32(odd.options, 59)).toBe(88);
    const forever = buildReply(req, { ...offerParams, leaseSeconds: 0xffffffff });
    expect(forever.options.has(58)).toBe(false);
    expect(forever.options.has(59)).toBe(false);
  });

  it('sends no 175 to plain PXE or when disabled, and puts 66 in sname too', () => {
    const ovmf = buildReply(request(ovmfPxeDiscover()), {
      ...offerParams,
      bootFile: 'ipxe.efi',
      tftpServerName: '10.213.0.1',
    });
    expect(ovmf.options.has(175)).toBe(false);
    expect(ovmf.file).toBe('ipxe.efi');
    expect(ovmf.sname).toBe('10.213.0.1');
    expect(getString(ovmf.options, 66)).toBe('10.213.0.1');
    expect(ovmf.flags).toBe(0x8000);
    const off = buildReply(request(biosIpxeRomDiscover()), { ...offerParams, ipxeNoPxeDhcp: false });
    expect(off.options.has(175)).toBe(false);
  });

  it('builds the ACK for a REQUEST, echoing ciaddr', () => {
    const req = { ...request(biosIpxeRomRequest()), ciaddr: '10.213.0.150' };
    const ack = buildReply(req, { ...offerParams, messageType: DhcpMessageType.ACK });
    expect(getU8(ack.options, 53)).toBe(DhcpMessageType.ACK);
    expect(ack.ciaddr).toBe('10.213.0.150');
  });

  it('answers DHCPINFORM without yiaddr or lease times (RFC 2131 §4.3.5)', () => {
    const inform = withOptions({ ...request(biosIpxeRomRequest()), ciaddr: '10.213.0.77' }, (o) => o.set(53, Buffer.from([DhcpMessageType.INFORM])));
    const ack = buildReply(inform, { messageType: DhcpMessageType.ACK, serverId: '10.213.0.1', bootFile: SCRIPT });
    expect(ack.yiaddr).toBe('0.0.0.0');
    expect(ack.ciaddr).toBe('10.213.0.77');
    expect([...ack.options.keys()].filter((c) => [51, 58, 59].includes(c))).toEqual([]);
  });

  it('echoes giaddr, hops and option 82 (last) for a relayed request', () => {
    const req = request(relayedOvmfRequest());
    const ack = onWire(buildReply(req, { ...offerParams, messageType: DhcpMessageType.ACK, bootFile: 'ipxe.efi' }));
    expect(ack.giaddr).toBe('10.20.0.1');
    expect(ack.hops).toBe(1);
    expect(ack.flags).toBe(0x8000);
    const codes = [...ack.options.keys()];
    expect(codes[codes.length - 1]).toBe(82);
    expect(ack.options.get(82)).toEqual(req.options.get(82));
  });

  it('builds a NAK with only 53, 54, 56 and 82 and zeroed addresses (RFC 2131 Table 3)', () => {
    const req = request(relayedOvmfRequest());
    const nak = onWire(
      buildReply(req, {
        ...offerParams,
        messageType: DhcpMessageType.NAK,
        message: 'address not available',
      }),
    );
    expect(nak).toMatchObject({ op: 2, ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', sname: '', file: '' });
    expect([...nak.options.keys()]).toEqual([53, 54, 56, 82]);
    expect(getU8(nak.options, 53)).toBe(DhcpMessageType.NAK);
    expect(getString(nak.options, 56)).toBe('address not available');
    expect(nak.flags & 0x8000).toBe(0x8000);
    const local = buildReply(request(biosIpxeRomRequest()), {
      messageType: DhcpMessageType.NAK,
      serverId: '10.213.0.1',
    });
    expect([...local.options.keys()]).toEqual([53, 54]);
    expect(local.flags).toBe(0);
  });

  it('rejects missing yiaddr / lease, bad addresses and duplicate extras', () => {
    const req = request(biosIpxeRomDiscover());
    expect(() => buildReply(req, { ...offerParams, yiaddr: undefined })).toThrow(RangeError);
    expect(() => buildReply(req, { ...offerParams, leaseSeconds: undefined })).toThrow(RangeError);
    expect(() => buildReply(req, { ...offerParams, routers: ['10.0.0'] })).toThrow(RangeError);
    expect(() => buildReply(req, { ...offerParams, extraOptions: new Map([[12, Buffer.from('x')]]) })).toThrow(RangeError);
  });

  it('sends a boot file too long for the BOOTP field only as option 67', () => {
    const long = `http://10.213.0.1:8080/boot.ipxe?${'x'.repeat(200)}`;
    const reply = onWire(buildReply(request(biosIpxeRomDiscover()), { ...offerParams, bootFile: long }));
    expect(reply.file).toBe('');
    expect(getString(reply.options, 67)).toBe(long);
  });
});

describe('UEFI HTTP boot clients (option 60 "HTTPClient…")', () => {
  const httpDiscover = () =>
    withOptions(request(ovmfPxeDiscover()), (o) => {
      o.set(60, Buffer.from('HTTPClient:Arch:00016:UNDI:003001', 'ascii'));
      o.set(93, Buffer.from([0x00, 0x10]));
    });
  const URL = 'http://10.213.0.1:8080/boot/files/ipxe.efi';

  it('full mode: the offer carries the URL in 67 and file, and 60 "HTTPClient" (UEFI 2.5+ §24.7.2)', () => {
    const reply = onWire(buildReply(httpDiscover(), { ...offerParams, bootFile: URL }));
    expect(getString(reply.options, 60)).toBe('HTTPClient');
    expect(getString(reply.options, 67)).toBe(URL);
    expect(reply.file).toBe(URL);
  });

  it('full mode: no boot file (disabled client) → no 60, so the firmware does not take it as a boot offer', () => {
    const reply = onWire(buildReply(httpDiscover(), { ...offerParams, bootFile: null }));
    expect(reply.options.has(60)).toBe(false);
    expect(reply.options.has(67)).toBe(false);
  });

  it('a PXE client never gets 60 in a full-mode offer', () => {
    expect(onWire(buildReply(request(ovmfPxeDiscover()), { ...offerParams, bootFile: 'ipxe.efi' })).options.has(60)).toBe(false);
  });

  it('proxy mode: 60 "HTTPClient", the URL, yiaddr 0 and no option 43', () => {
    const reply = onWire(buildProxyReply(httpDiscover(), { serverId: '10.213.0.1', bootFile: URL }));
    expect(getU8(reply.options, 53)).toBe(DhcpMessageType.OFFER);
    expect(getString(reply.options, 60)).toBe('HTTPClient');
    expect(getString(reply.options, 67)).toBe(URL);
    expect(reply.yiaddr).toBe('0.0.0.0');
    expect(reply.options.has(43)).toBe(false);
  });
});

describe('maximum message size (option 57)', () => {
  it('reads 57 as a datagram size, floors it at 576 and caps it at one Ethernet frame', () => {
    const base = request(biosIpxeRomDiscover());
    expect(maxReplyLength(base)).toBe(1444);
    expect(maxReplyLength(withOptions(base, (o) => o.delete(57)))).toBe(548);
    expect(maxReplyLength(withOptions(base, (o) => o.set(57, Buffer.from([0x01, 0x00]))))).toBe(548);
    expect(maxReplyLength(withOptions(base, (o) => o.set(57, Buffer.from([0xff, 0x00]))))).toBe(1472);
  });

  it('drops optional options, least important first, to fit', () => {
    const req = withOptions(request(biosIpxeRomDiscover()), (o) => o.delete(57));
    const extras = new Map([
      [203, Buffer.alloc(150, 0x61)],
      [240, Buffer.alloc(100, 1)],
    ]);
    const reply = buildReply(req, { ...offerParams, domainName: 'd'.repeat(60), extraOptions: extras });
    const wire = encodeDhcp(reply);
    expect(wire.length).toBeLessThanOrEqual(548);
    expect(reply.options.has(240)).toBe(false);
    for (const kept of [53, 54, 51, 1, 3, 67, 175]) expect(reply.options.has(kept)).toBe(true);

    const roomy = buildReply(request(biosIpxeRomDiscover()), { ...offerParams, extraOptions: extras });
    expect(roomy.options.has(240)).toBe(true);
    expect(roomy.options.has(203)).toBe(true);
  });

  it('keeps option 67 when the file field cannot carry the boot file, and fails if even that cannot fit', () => {
    const req = withOptions(request(relayedOvmfRequest()), (o) => o.delete(57));
    const big = 'http://x/' + 'y'.repeat(250);
    const reply = buildReply(req, { ...offerParams, messageType: DhcpMessageType.ACK, bootFile: big });
    expect(getString(reply.options, 67)).toBe(big);
    expect(reply.options.has(82)).toBe(true);
    expect(encodeDhcp(reply).length).toBeLessThanOrEqual(548);
    expect(() => buildReply(req, { ...offerParams, bootFile: big + big })).toThrow(RangeError);
  });
});

describe('buildProxyReply (ProxyDHCP)', () => {
  const proxy = { serverId: '10.213.0.1', bootFile: 'ipxe.efi' };

  it('OFFERs plain PXE a boot file with 60, 54, 97 echo and PXE_DISCOVERY_CONTROL = 8', () => {
    const req = request(ovmfPxeDiscover());
    const offer = onWire(buildProxyReply(req, proxy));
    expect(offer).toMatchObject({
      op: 2,
      yiaddr: '0.0.0.0',
      ciaddr: '0.0.0.0',
      siaddr: '10.213.0.1',
      file: 'ipxe.efi',
    });
    expect(offer.flags).toBe(0x8000);
    expect(getU8(offer.options, 53)).toBe(DhcpMessageType.OFFER);
    expect(getIp(offer.options, 54)).toBe('10.213.0.1');
    expect(getString(offer.options, 60)).toBe('PXEClient');
    expect(offer.options.get(97)).toEqual(req.options.get(97));
    expect(offer.options.get(43)).toEqual(Buffer.from([6, 1, 8, 255]));
    expect(getString(offer.options, 67)).toBe('ipxe.efi');
    expect(offer.options.has(51)).toBe(false);
  });

  it('ACKs a port-4011 REQUEST, echoing ciaddr', () => {
    const req = withOptions({ ...request(ovmfPxeDiscover()), ciaddr: '10.213.0.150' }, (o) => o.set(53, Buffer.from([DhcpMessageType.REQUEST])));
    const ack = buildProxyReply(req, { ...proxy, siaddr: '10.213.0.2' });
    expect(getU8(ack.options, 53)).toBe(DhcpMessageType.ACK);
    expect(ack.ciaddr).toBe('10.213.0.150');
    expect(ack.siaddr).toBe('10.213.0.2');
  });

  it('sends no option 43 to iPXE', () => {
    const offer = buildProxyReply(request(undionlyDiscover()), { ...proxy, bootFile: SCRIPT });
    expect(offer.options.has(43)).toBe(false);
    expect(offer.file).toBe(SCRIPT);
  });

  it('refuses message types other than DISCOVER and REQUEST', () => {
    const release = withOptions(request(ovmfPxeDiscover()), (o) => o.set(53, Buffer.from([7])));
    expect(() => buildProxyReply(release, proxy)).toThrow(RangeError);
  });
});

describe('replyDestination (RFC 2131 §4.1)', () => {
  const reqOf = (edit: Partial<DhcpPacket>): DhcpPacket => ({ ...request(biosIpxeRomRequest()), ...edit });
  const ack = (req: DhcpPacket): DhcpPacket => buildReply(req, { ...offerParams, messageType: DhcpMessageType.ACK });
  const nak = (req: DhcpPacket): DhcpPacket => buildReply(req, { messageType: DhcpMessageType.NAK, serverId: '10.213.0.1' });

  it('relayed → giaddr:67, even for a NAK or with ciaddr', () => {
    const req = reqOf({ giaddr: '10.20.0.1', ciaddr: '10.20.0.9' });
    expect(replyDestination(req, ack(req))).toEqual({ address: '10.20.0.1', port: 67, reason: 'relay' });
    expect(replyDestination(req, nak(req))).toEqual({ address: '10.20.0.1', port: 67, reason: 'relay' });
  });

  it('NAK without relay → broadcast, even with ciaddr', () => {
    const req = reqOf({ ciaddr: '10.213.0.150' });
    expect(replyDestination(req, nak(req))).toEqual({ address: '255.255.255.255', port: 68, reason: 'nak-broadcast' });
  });

  it('ciaddr set → unicast to ciaddr:68, even with the broadcast flag', () => {
    const req = reqOf({ ciaddr: '10.213.0.150', flags: 0x8000 });
    expect(replyDestination(req, ack(req))).toEqual({ address: '10.213.0.150', port: 68, reason: 'ciaddr' });
  });

  it('broadcast flag → broadcast', () => {
    const req = request(undionlyDiscover());
    const offer = buildReply(req, offerParams);
    expect(replyDestination(req, offer)).toEqual({ address: '255.255.255.255', port: 68, reason: 'broadcast-flag' });
  });

  it('no address and no flag → still broadcast (never unicast to an un-ARPed yiaddr)', () => {
    const req = request(biosIpxeRomDiscover());
    const offer = buildReply(req, offerParams);
    expect(offer.yiaddr).toBe('10.213.0.150');
    expect(replyDestination(req, offer)).toEqual({
      address: '255.255.255.255',
      port: 68,
      reason: 'broadcast-no-address',
    });
  });
});
