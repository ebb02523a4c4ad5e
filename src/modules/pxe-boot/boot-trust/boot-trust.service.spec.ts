import { Logger } from '@nestjs/common';
import type { ClientBootFacts } from '../../catalog';
import type { DhcpLeasesService } from '../dhcp/dhcp-leases.service';
import type { DhcpProvider } from '../dhcp/dhcp.provider';
import type { BootTokens } from './boot-tokens.service';
import { BootTrustService } from './boot-trust.service';
import { checkBootToken, signBootToken } from './boot-token';
import { LeaseMemo } from './lease-memo';

beforeAll(() => Logger.overrideLogger(false));

const KEY = Buffer.from('k'.repeat(48));
const MAC = '52:54:00:00:00:0a';
const IP = '10.79.0.5';

function setup(opts: { mode?: 'full' | 'proxy'; leaseIp?: string | null } = {}) {
  const counts = { hmac: 0, leaseReads: 0, neighbourReads: 0, statusReads: 0 };
  const tokens = {
    problem: (t: unknown, mac: string, ip: string | null) => {
      counts.hmac++;
      return checkBootToken(KEY, t, mac, ip, Date.now() / 1000);
    },
  } as unknown as BootTokens;
  const ranges = [{ id: 'r1', name: 'room', cidr: '10.79.0.0/24', mode: opts.mode ?? 'full', interface: 'br0', relayOnly: false }];
  const dhcp = {
    status: () => {
      counts.statusReads++;
      return { ranges };
    },
  } as unknown as DhcpProvider;
  const leaseIp = opts.leaseIp === undefined ? IP : opts.leaseIp;
  const leases = {
    findByMac: async () => {
      counts.leaseReads++;
      return leaseIp ? { ip: leaseIp, state: 'bound', expiresAt: new Date(Date.now() + 600_000) } : null;
    },
  } as unknown as DhcpLeasesService;
  const neighbours = {
    macOf: async () => {
      counts.neighbourReads++;
      return MAC;
    },
  };
  const memo = new LeaseMemo();
  const trust = new BootTrustService(tokens, dhcp, leases, neighbours, memo);
  return { trust, counts, memo, ranges };
}

const client = { id: 'a', mac: MAC, ipAddress: null } as unknown as ClientBootFacts;
const good = (ip: string | null = IP) => signBootToken(KEY, MAC, ip, Date.now() / 1000);

describe('BootTrustService', () => {
  it("a boot's repeated requests are checked from memory: one lease read, one HMAC, the ranges re-read once a second", async () => {
    const { trust, counts } = setup();
    const t = good();
    for (let i = 0; i < 50; i++) expect(await trust.check(MAC, t, IP, client)).toEqual({ ok: true });
    expect(counts).toEqual({ hmac: 1, leaseReads: 1, neighbourReads: 0, statusReads: 1 });
  });

  it('checkNow: yes only from memory (after a full check said yes), else null — never a refusal of its own', async () => {
    const { trust } = setup();
    const t = good();
    expect(trust.checkNow(MAC, t, IP, client)).toBeNull(); // nothing known yet
    await trust.check(MAC, t, IP, client);
    expect(trust.checkNow(MAC, t, IP, client)).toEqual({ ok: true });
    expect(trust.checkNow(MAC, t, '10.79.0.6', client)).toBeNull();
    expect(trust.checkNow(MAC, 'x', IP, client)).toBeNull();
    expect(trust.checkNow('52:54:00:00:00:0b', t, IP, client)).toBeNull();
  });

  it('memory never lets a bad request through: another address, another MAC, a bad or expired token', async () => {
    const { trust } = setup();
    await trust.check(MAC, good(), IP, client);
    expect((await trust.check(MAC, good(), '10.79.0.6', client)).ok).toBe(false); // not the leased address
    expect((await trust.check(MAC, 'x', IP, client)).ok).toBe(false);
    expect((await trust.check(MAC, signBootToken(KEY, MAC, IP, Date.now() / 1000 - 3600), IP, client)).ok).toBe(false);
    expect((await trust.check('52:54:00:00:00:0b', good(), IP, client)).ok).toBe(false);
    expect((await trust.check(MAC, good(), '127.0.0.1', client)).ok).toBe(false); // on no boot network
  });

  it('a DHCP packet of the MAC (the lease may have moved) makes the next check read the lease again', async () => {
    const { trust, counts, memo } = setup();
    await trust.check(MAC, good(), IP, client);
    memo.forget(MAC);
    await trust.check(MAC, good(), IP, client);
    expect(counts.leaseReads).toBe(2);
  });

  it('proxy mode still asks the neighbour table each time (the kernel entry is the proof)', async () => {
    const { trust, counts } = setup({ mode: 'proxy' });
    const t = good(null);
    for (let i = 0; i < 3; i++) expect(await trust.check(MAC, t, IP, client)).toEqual({ ok: true });
    expect(counts.neighbourReads).toBe(3);
    expect(counts.hmac).toBe(1);
  });
});
