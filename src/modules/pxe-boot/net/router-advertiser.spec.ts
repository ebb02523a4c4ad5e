import { ICMPV6_ROUTER_ADVERTISEMENT } from '@protocols/ipv6/router-advertisement';
import { buildRouterSolicitation } from '@protocols/ipv6/router-solicitation';
import { NativeIcmpv6MessageInfo } from './native-binding';
import { NetErrorCode } from './net.errors';
import { ALL_NODES, RaTransportFactory, RouterAdvertiser, RouterAdvertiserLogger } from './router-advertiser';

describe('RouterAdvertiser (fake transport)', () => {
  let sent: { icmp: Buffer; destination: string; at: number }[];
  let deliver: (icmp: Buffer, info: NativeIcmpv6MessageInfo) => void;
  let closed: number;
  let failNext: Error | null;
  let logger: jest.Mocked<RouterAdvertiserLogger>;
  const factory: RaTransportFactory = (ifname, onSolicitation) => {
    expect(ifname).toBe('br-test');
    deliver = onSolicitation;
    return {
      send: (icmp, destination) => {
        if (failNext) {
          const err = failNext;
          failNext = null;
          throw err;
        }
        sent.push({ icmp, destination, at: Date.now() });
      },
      close: () => void closed++,
    };
  };
  const make = (extra: Partial<ConstructorParameters<typeof RouterAdvertiser>[0]> = {}): RouterAdvertiser =>
    new RouterAdvertiser({
      interface: 'br-test',
      prefix: 'fd00:213::/64',
      transportFactory: factory,
      macLookup: () => '52:54:00:12:34:56',
      random: () => 0.5,
      logger,
      ...extra,
    });

  beforeEach(() => {
    jest.useFakeTimers({ now: 0 });
    sent = [];
    closed = 0;
    failNext = null;
    logger = { debug: jest.fn(), log: jest.fn(), warn: jest.fn() };
  });
  afterEach(() => jest.useRealTimers());

  it('sends an RA at once, two more quickly, then one every intervalMs, to ff02::1', () => {
    const ra = make();
    ra.start();
    expect(sent.map((s) => s.at)).toEqual([0]);
    jest.advanceTimersByTime(1000);
    expect(sent.map((s) => s.at)).toEqual([0, 500, 1000]);
    jest.advanceTimersByTime(3500 * 2);
    expect(sent.map((s) => s.at)).toEqual([0, 500, 1000, 4500, 8000]);
    expect(sent.every((s) => s.destination === ALL_NODES)).toBe(true);
    expect(ra.stats).toEqual({ unsolicited: 5, solicited: 0 });
    ra.stop();
  });

  it('builds an RA with Router Lifetime 0, M=O=0, SLLA and the prefix (L=1, A=1)', () => {
    const ra = make();
    ra.start();
    const icmp = sent[0].icmp;
    expect(icmp[0]).toBe(ICMPV6_ROUTER_ADVERTISEMENT);
    expect(icmp[5]).toBe(0);
    expect(icmp.readUInt16BE(6)).toBe(0);
    expect(icmp.subarray(16, 24).toString('hex')).toBe('0101525400123456');
    expect(icmp.subarray(24, 28).toString('hex')).toBe('030440c0');
    expect(icmp.subarray(40).toString('hex')).toBe('fd000213000000000000000000000000');
    ra.stop();
  });

  it('keeps the jittered interval within 3-4 s by default', () => {
    for (const r of [0, 0.999999]) {
      sent = [];
      const ra = make({ random: () => r });
      ra.start();
      jest.advanceTimersByTime(60_000);
      const gaps = sent.slice(3).map((s, i) => s.at - sent[i + 2].at);
      expect(Math.min(...gaps)).toBeGreaterThanOrEqual(3000);
      expect(Math.max(...gaps)).toBeLessThanOrEqual(4000);
      ra.stop();
    }
  });

  it('answers a valid RS immediately and ignores an RS whose hop limit is not 255', () => {
    const ra = make({ intervalMs: 60_000 });
    ra.start();
    jest.advanceTimersByTime(2000);
    const before = sent.length;
    deliver(buildRouterSolicitation(), { address: 'fe80::1', hopLimit: 64, ifindex: 3, destination: 'ff02::2' });
    expect(sent).toHaveLength(before);
    deliver(buildRouterSolicitation('52:54:00:aa:bb:cc'), {
      address: 'fe80::1',
      hopLimit: 255,
      ifindex: 3,
      destination: 'ff02::2',
    });
    expect(sent).toHaveLength(before + 1);
    expect(ra.stats.solicited).toBe(1);
    ra.stop();
  });

  it('warns once about a send failure, then keeps trying', () => {
    failNext = Object.assign(new Error('sendto ENETDOWN ff02::1%br-test'), { code: 'ENETDOWN' });
    const ra = make();
    ra.start();
    expect(sent).toHaveLength(0);
    expect(logger.warn).toHaveBeenCalledTimes(1);
    jest.advanceTimersByTime(500);
    expect(sent).toHaveLength(1);
  });

  it('stop() closes the socket once and stops the timer', () => {
    const ra = make();
    ra.start();
    ra.stop();
    ra.stop();
    expect(closed).toBe(1);
    expect(ra.running).toBe(false);
    jest.advanceTimersByTime(60_000);
    expect(sent).toHaveLength(1);
  });

  it('rejects bad options at construction', () => {
    expect(() => make({ interface: '../x' })).toThrow(expect.objectContaining({ code: NetErrorCode.INVALID_INTERFACE_NAME }));
    expect(() => make({ prefix: 'fd00::' })).toThrow(TypeError);
    expect(() => make({ intervalMs: 10 })).toThrow(RangeError);
    expect(() => make({ validLifetimeSec: 10, preferredLifetimeSec: 20 })).toThrow(RangeError);
  });
});
