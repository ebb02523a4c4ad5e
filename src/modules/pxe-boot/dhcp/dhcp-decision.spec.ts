import { DhcpMessageType } from '@protocols/dhcp';
import { bootFileFor, decideDhcp, DhcpDecisionInput, secureBootLoaderFor } from './dhcp-decision';

const ENABLED = { enabled: true, pending: false };
const base: DhcpDecisionInput = {
  messageType: DhcpMessageType.DISCOVER,
  port: 'dhcp',
  isPxe: true,
  isHttpClient: false,
  mode: 'full',
  policy: 'ignore',
  client: ENABLED,
  ciaddr: '0.0.0.0',
  requestedIp: null,
  serverId: null,
  ourServerId: '10.0.0.1',
};
const decide = (over: Partial<DhcpDecisionInput>) => decideDhcp({ ...base, ...over });

describe('decideDhcp — full mode', () => {
  it('offers with boot info to a known enabled client and tracks it', () => {
    expect(decide({})).toEqual({ action: { kind: 'offer', boot: true }, register: false, track: true });
  });

  it('gives disabled and pending clients an address without boot info, untracked', () => {
    expect(decide({ client: { enabled: false, pending: false } })).toEqual({
      action: { kind: 'offer', boot: false },
      register: false,
      track: false,
    });
    expect(decide({ client: { enabled: true, pending: true } }).action).toEqual({ kind: 'offer', boot: false });
  });

  it('drops unknown clients under policy ignore, registers them (address only) under policy register', () => {
    expect(decide({ client: null }).action).toEqual({ kind: 'drop', reason: 'unknown client (policy ignore)' });
    expect(decide({ client: null, policy: 'register' })).toEqual({
      action: { kind: 'offer', boot: false },
      register: true,
      track: false,
    });
    // A DECLINE/RELEASE from an unknown MAC registers nothing.
    expect(decide({ client: null, policy: 'register', messageType: DhcpMessageType.RELEASE }).register).toBe(false);
  });

  it('tells the RFC 2131 §4.3.2 REQUEST states apart', () => {
    const request = { messageType: DhcpMessageType.REQUEST };
    expect(decide({ ...request, serverId: '10.0.0.1', requestedIp: '10.0.0.50' }).action).toEqual({
      kind: 'request',
      ip: '10.0.0.50',
      state: 'selecting',
      boot: true,
    });
    expect(decide({ ...request, requestedIp: '10.0.0.50' }).action).toMatchObject({ state: 'init-reboot', ip: '10.0.0.50' });
    expect(decide({ ...request, ciaddr: '10.0.0.60', requestedIp: '10.0.0.50' }).action).toMatchObject({
      state: 'renewing',
      ip: '10.0.0.60',
    });
    expect(decide({ ...request }).action.kind).toBe('drop');
    expect(decide({ ...request, serverId: '10.0.0.1' }).action.kind).toBe('drop');
  });

  it('forgets its offer silently when the client selected another server', () => {
    expect(decide({ messageType: DhcpMessageType.REQUEST, serverId: '10.9.9.9', requestedIp: '10.0.0.50' })).toEqual({
      action: { kind: 'forget-offer' },
      register: false,
      track: false,
    });
  });

  it('handles DECLINE (needs option 50), RELEASE (needs ciaddr) and INFORM', () => {
    expect(decide({ messageType: DhcpMessageType.DECLINE, serverId: '10.0.0.1', requestedIp: '10.0.0.50' }).action).toEqual({
      kind: 'decline',
      ip: '10.0.0.50',
    });
    expect(decide({ messageType: DhcpMessageType.DECLINE }).action.kind).toBe('drop');
    expect(decide({ messageType: DhcpMessageType.DECLINE, serverId: '10.9.9.9', requestedIp: '10.0.0.50' }).action.kind).toBe('drop');
    expect(decide({ messageType: DhcpMessageType.RELEASE, ciaddr: '10.0.0.50' }).action).toEqual({
      kind: 'release',
      ip: '10.0.0.50',
    });
    expect(decide({ messageType: DhcpMessageType.RELEASE }).action.kind).toBe('drop');
    expect(decide({ messageType: DhcpMessageType.INFORM, ciaddr: '10.0.0.50' })).toEqual({
      action: { kind: 'inform', boot: true },
      register: false,
      track: true,
    });
  });

  it('drops server-side message types, BOOTP and port-4011 traffic', () => {
    for (const t of [DhcpMessageType.OFFER, DhcpMessageType.ACK, DhcpMessageType.NAK, null]) {
      expect(decide({ messageType: t }).action.kind).toBe('drop');
    }
    expect(decide({ port: 'pxe', messageType: DhcpMessageType.REQUEST }).action.kind).toBe('drop');
  });
});

describe('decideDhcp — proxy mode', () => {
  const proxy = { mode: 'proxy' as const };

  it('answers a known enabled PXE client: OFFER on 67, ACK on 4011', () => {
    expect(decide({ ...proxy })).toEqual({ action: { kind: 'proxy-offer' }, register: false, track: true });
    expect(decide({ ...proxy, port: 'pxe', messageType: DhcpMessageType.REQUEST })).toEqual({
      action: { kind: 'proxy-ack' },
      register: false,
      track: true,
    });
  });

  it('ignores non-PXE, disabled, pending and unknown clients (registering unknown PXE ones under register)', () => {
    expect(decide({ ...proxy, isPxe: false }).action.kind).toBe('drop');
    expect(decide({ ...proxy, client: { enabled: false, pending: false } }).action.kind).toBe('drop');
    expect(decide({ ...proxy, client: { enabled: true, pending: true } }).action.kind).toBe('drop');
    expect(decide({ ...proxy, client: null })).toMatchObject({ action: { kind: 'drop' }, register: false });
    expect(decide({ ...proxy, client: null, policy: 'register' })).toMatchObject({ action: { kind: 'drop' }, register: true });
    expect(decide({ ...proxy, client: null, policy: 'register', isPxe: false }).register).toBe(false);
  });

  it('answers a UEFI HTTP boot client (option 60 "HTTPClient") with a proxy offer, and only on the DHCP port', () => {
    const http = { ...proxy, isPxe: false, isHttpClient: true };
    expect(decide(http)).toEqual({ action: { kind: 'proxy-offer' }, register: false, track: true });
    expect(decide({ ...http, messageType: DhcpMessageType.REQUEST, serverId: '10.0.0.254' }).action.kind).toBe('drop');
    expect(decide({ ...http, client: { enabled: false, pending: false } }).action.kind).toBe('drop');
    expect(decide({ ...http, client: null, policy: 'register' })).toMatchObject({ action: { kind: 'drop' }, register: true });
  });

  it('leaves REQUESTs on the DHCP port to the real DHCP server', () => {
    expect(decide({ ...proxy, messageType: DhcpMessageType.REQUEST, serverId: '10.0.0.254' }).action.kind).toBe('drop');
    expect(decide({ ...proxy, port: 'pxe', messageType: DhcpMessageType.DISCOVER }).action.kind).toBe('drop');
  });
});

describe('bootFileFor', () => {
  const input = {
    mac: '52:54:00:12:34:56',
    arch: 0,
    isIpxe: false,
    isHttpClient: false,
    bootLoader: null,
    httpHost: '10.0.0.1',
    httpPort: 8080,
    token: null,
  };

  it('gives iPXE its per-MAC HTTP script, whatever the architecture or override', () => {
    expect(bootFileFor({ ...input, isIpxe: true, bootLoader: 'ipxe.efi' })).toBe('http://10.0.0.1:8080/boot/52:54:00:12:34:56.ipxe');
  });

  it('puts the boot token into the script URL', () => {
    expect(bootFileFor({ ...input, isIpxe: true, token: 'abc.0123456789abcdefABCDEF' })).toBe(
      'http://10.0.0.1:8080/boot/52:54:00:12:34:56.ipxe?t=abc.0123456789abcdefABCDEF',
    );
  });

  it('picks the TFTP loader by architecture, or the client override', () => {
    expect(bootFileFor(input)).toBe('undionly.kpxe');
    expect(bootFileFor({ ...input, arch: 7 })).toBe('ipxe.efi');
    expect(bootFileFor({ ...input, arch: 9 })).toBe('ipxe.efi');
    expect(bootFileFor({ ...input, arch: 0, bootLoader: 'ipxe.pxe' })).toBe('ipxe.pxe');
    expect(bootFileFor({ ...input, arch: 7, bootLoader: 'snponly.efi' })).toBe('snponly.efi');
    expect(bootFileFor({ ...input, arch: null })).toBeNull();
    expect(bootFileFor({ ...input, arch: 11 })).toBeNull();
  });

  it('gives a UEFI HTTP boot client the same loader as a URL of the boot files route (arch 15/16), or none', () => {
    const http = { ...input, isHttpClient: true };
    expect(bootFileFor({ ...http, arch: 16 })).toBe('http://10.0.0.1:8080/boot/files/ipxe.efi');
    expect(bootFileFor({ ...http, arch: 15 })).toBe('http://10.0.0.1:8080/boot/files/ipxe.efi');
    expect(bootFileFor({ ...http, arch: 16, bootLoader: 'snponly.efi' })).toBe('http://10.0.0.1:8080/boot/files/snponly.efi');
    expect(bootFileFor({ ...http, arch: 19 })).toBeNull(); // ARM64 over HTTP: DLS ships no loader for it
    // iPXE loaded over HTTP boot then asks as iPXE: its script, as ever.
    expect(bootFileFor({ ...http, isIpxe: true, arch: 7 })).toBe('http://10.0.0.1:8080/boot/52:54:00:12:34:56.ipxe');
  });

  it('gives a Secure Boot client the signed shim on UEFI PXE (not over HTTP boot), iPXE on BIOS', () => {
    const sb = { ...input, secureBoot: true };
    expect(bootFileFor({ ...sb, arch: 7 })).toBe('shimx64.efi');
    expect(bootFileFor({ ...sb, arch: 7, bootLoader: 'ipxe.efi' })).toBe('shimx64.efi');
    // Over UEFI HTTP boot, Debian's GRUB gets no network configuration: no offer (the firmware tries PXE next).
    expect(bootFileFor({ ...sb, arch: 16, isHttpClient: true })).toBeNull();
    expect(bootFileFor({ ...sb, arch: 0 })).toBe('undionly.kpxe');
    expect(bootFileFor({ ...sb, arch: 7, isIpxe: true })).toBe('http://10.0.0.1:8080/boot/52:54:00:12:34:56.ipxe');
  });

  it("gives a Secure Boot client the operator's signed loader for its CPU first; no unsigned iPXE where there is none", () => {
    const sb = { ...input, secureBoot: true };
    const signed = 'signed/x64/ipxe-shimx64.efi';
    expect(bootFileFor({ ...sb, arch: 7, signedLoader: signed })).toBe(signed);
    expect(bootFileFor({ ...sb, arch: 9, signedLoader: signed, bootLoader: 'snponly.efi' })).toBe(signed);
    expect(bootFileFor({ ...sb, arch: 16, isHttpClient: true, signedLoader: signed })).toBe(
      'http://10.0.0.1:8080/boot/files/signed/x64/ipxe-shimx64.efi',
    );
    expect(bootFileFor({ ...sb, arch: 11, signedLoader: 'signed/arm64/shimaa64.efi' })).toBe('signed/arm64/shimaa64.efi');
    // ARM64 or 32-bit UEFI under Secure Boot without an operator's loader: Debian's chain is x64 only, iPXE would be refused.
    expect(bootFileFor({ ...sb, arch: 11 })).toBeNull();
    expect(bootFileFor({ ...sb, arch: 6 })).toBeNull();
    expect(bootFileFor({ ...sb, arch: 6, bootLoader: 'ipxe.efi' })).toBeNull();
    // Not marked Secure Boot: the operator's loader is not used.
    expect(bootFileFor({ ...input, arch: 7, signedLoader: signed })).toBe('ipxe.efi');
    expect(secureBootLoaderFor('x64', null)).toBe('shimx64.efi');
  });
});
