import { formatIpv4, parseIpv4 } from '@common/net/ipv4';
import { addressPool } from './address-pool';
import { BookRow, LeaseBook } from './lease-book';

const ip = (s: string) => parseIpv4(s)!;
const A = '52:54:00:00:00:0a';
const B = '52:54:00:00:00:0b';
const C = '52:54:00:00:00:0c';

function book(opts: { rows?: BookRow[]; reservations?: Record<string, string>; poolEnd?: string } = {}) {
  const pool = addressPool(
    { cidr: '10.1.0.0/24', gateway: '10.1.0.1', poolStart: '10.1.0.100', poolEnd: opts.poolEnd ?? '10.1.0.199', nextServer: null },
    ['10.1.0.2'],
  )!;
  const reservations = opts.reservations ?? {};
  return new LeaseBook({ pool, reservedFor: (a) => reservations[a] ?? null, offerHoldMs: 10_000, graceMs: 3_000, rescanMs: 0 }, opts.rows ?? []);
}

const bound = (addr: string, mac: string, expiresAt: number, state: BookRow['state'] = 'bound'): BookRow => ({
  ip: ip(addr),
  mac,
  clientId: null,
  state,
  expiresAt,
  hostname: null,
});

describe('LeaseBook', () => {
  it('offers never-used pool addresses lowest first and holds each for its MAC', () => {
    const b = book();
    expect(b.offer(A, {}, 0)).toEqual({ ip: '10.1.0.100', source: 'pool' });
    expect(b.offer(B, {}, 0)).toEqual({ ip: '10.1.0.101', source: 'pool' });
    expect(b.offer(A, {}, 1000)).toEqual({ ip: '10.1.0.100', source: 'pool' }); // a retransmission keeps its offer
    expect(b.available(ip('10.1.0.100'), B, 1000)).toBe(false);
  });

  it('prefers the reservation, then the current lease, then the requested address; never another’s reservation', () => {
    const b = book({ rows: [bound('10.1.0.150', A, 5_000)], reservations: { '10.1.0.100': C, '10.1.0.20': B } });
    expect(b.offer(B, { reservedIp: '10.1.0.20' }, 0)).toEqual({ ip: '10.1.0.20', source: 'reservation' });
    expect(b.offer(A, { requestedIp: '10.1.0.160' }, 0)).toEqual({ ip: '10.1.0.150', source: 'existing' });
    const other = '52:54:00:00:00:0d';
    expect(b.offer(other, { requestedIp: '10.1.0.160' }, 0)).toEqual({ ip: '10.1.0.160', source: 'requested' });
    expect(b.offer('52:54:00:00:00:0e', {}, 0)).toEqual({ ip: '10.1.0.101', source: 'pool' }); // .100 is C's reservation
  });

  it('keeps an offered address for the hold plus the grace (a REQUEST that arrived in time may still be queued)', () => {
    const b = book({ poolEnd: '10.1.0.100' });
    expect(b.offer(A, {}, 0)?.ip).toBe('10.1.0.100');
    expect(b.offer(B, {}, 12_000)).toBeNull(); // hold 10 s + grace 3 s
    expect(b.claim(A, ip('10.1.0.100'), 9_000)).toBeNull(); // arrived within the hold: still A's
    b.abandon(A, ip('10.1.0.100'));
    expect(b.offer(B, {}, 13_001)?.ip).toBe('10.1.0.100');
  });

  it('never lets two MACs claim one address, and NAK reasons say why', () => {
    const b = book({ reservations: { '10.1.0.120': C } });
    expect(b.claim(A, ip('10.1.0.110'), 0)).toBeNull();
    expect(b.claim(B, ip('10.1.0.110'), 0)).toBe('10.1.0.110 is in use by another client');
    expect(b.claim(B, ip('10.1.0.120'), 0)).toBe('10.1.0.120 is reserved for another client');
    b.commit(bound('10.1.0.110', A, 60_000));
    expect(b.claim(B, ip('10.1.0.110'), 1_000)).toBe('10.1.0.110 is in use by another client');
    expect(b.claim(B, ip('10.1.0.110'), 60_001)).toBeNull(); // expired: reusable
  });

  it('moves a MAC’s lease to its new address and frees the old one', () => {
    const b = book({ poolEnd: '10.1.0.101', rows: [bound('10.1.0.100', A, 60_000)] });
    expect(b.claim(A, ip('10.1.0.101'), 0)).toBeNull();
    b.commit(bound('10.1.0.101', A, 60_000));
    expect(b.rowOf(A, 0)?.ip).toBe(ip('10.1.0.101'));
    expect(b.rowAt(ip('10.1.0.100'))).toBeNull();
    expect(b.offer(B, {}, 0)?.ip).toBe('10.1.0.100');
  });

  it('reuses expired and released addresses, longest expired first, only when no never-used one is left', () => {
    const rows = [bound('10.1.0.100', A, 500), bound('10.1.0.101', B, 100), bound('10.1.0.102', C, 5_000, 'released')];
    const b = book({ poolEnd: '10.1.0.103', rows });
    const n = (mac: string) => b.offer(mac, {}, 1_000)?.ip;
    expect(n('52:54:00:00:01:01')).toBe('10.1.0.103');
    expect(n('52:54:00:00:01:02')).toBe('10.1.0.101');
    expect(n('52:54:00:00:01:03')).toBe('10.1.0.100');
    expect(n('52:54:00:00:01:04')).toBe('10.1.0.102');
    expect(n('52:54:00:00:01:05')).toBeUndefined();
  });

  it('quarantines a declined address and releases a released one', () => {
    const b = book({ rows: [bound('10.1.0.100', A, 60_000), bound('10.1.0.101', B, 60_000)] });
    b.decline(A, ip('10.1.0.100'), 'ff:ff:0a:01:00:64', 600_000);
    expect(b.rowOf(A, 0)).toBeNull();
    expect(b.available(ip('10.1.0.100'), C, 1_000)).toBe(false);
    b.release(B, ip('10.1.0.101'), 2_000);
    expect(b.available(ip('10.1.0.101'), C, 2_001)).toBe(true);
    expect(b.offer(A, {}, 3_000)?.ip).not.toBe('10.1.0.100');
  });

  it('an offer the client declined by choosing another server goes back to the pool', () => {
    const b = book({ poolEnd: '10.1.0.100' });
    expect(b.offer(A, {}, 0)?.ip).toBe('10.1.0.100');
    b.forgetOffer(A);
    expect(b.offer(B, {}, 1)?.ip).toBe('10.1.0.100');
  });

  it('allocates among 10,000 leases without a scan per offer', () => {
    const rows: BookRow[] = [];
    for (let i = 0; i < 10_000; i++)
      rows.push(
        bound(
          formatIpv4(ip('10.2.0.10') + i),
          `02:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
          1e12,
        ),
      );
    const pool = addressPool({ cidr: '10.2.0.0/16', gateway: null, poolStart: '10.2.0.10', poolEnd: '10.2.255.250', nextServer: null })!;
    const b = new LeaseBook({ pool, reservedFor: () => null, offerHoldMs: 10_000, graceMs: 3_000 }, rows);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 10_000; i++)
      b.offer(`06:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`, {}, 0);
    const perOfferUs = Number(process.hrtime.bigint() - t0) / 1e3 / 10_000;
    expect(b.stats().offers).toBe(10_000);
    expect(perOfferUs).toBeLessThan(200); // generous on a shared machine; a table scan per offer would be far above
  });
});
