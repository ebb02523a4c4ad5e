import { addressPool, inCidr, inPool, isLeasable, offerCandidates } from './address-pool';
import { firstFreeAddress, quarantineMac } from './dhcp-leases.service';
import { parseIpv4 } from '@common/net/ipv4';

const range = {
  cidr: '10.1.0.0/24',
  gateway: '10.1.0.1',
  poolStart: null as string | null,
  poolEnd: null as string | null,
  nextServer: null as string | null,
};

describe('addressPool', () => {
  it('uses the whole CIDR minus network and broadcast when no pool is set, and excludes gateway and server', () => {
    const pool = addressPool(range, ['10.1.0.2'])!;
    expect(pool.first).toBe(parseIpv4('10.1.0.1'));
    expect(pool.last).toBe(parseIpv4('10.1.0.254'));
    expect(inPool(pool, '10.1.0.1')).toBe(false); // gateway
    expect(inPool(pool, '10.1.0.2')).toBe(false); // our address
    expect(inPool(pool, '10.1.0.3')).toBe(true);
    expect(inPool(pool, '10.1.0.255')).toBe(false);
    expect(inPool(pool, '10.1.1.3')).toBe(false);
  });

  it('honours pool_start/pool_end (inet values may carry /32) and rejects a pool outside the CIDR', () => {
    const pool = addressPool({ ...range, poolStart: '10.1.0.100/32', poolEnd: '10.1.0.110' })!;
    expect(inPool(pool, '10.1.0.99')).toBe(false);
    expect(inPool(pool, '10.1.0.100')).toBe(true);
    expect(inPool(pool, '10.1.0.110')).toBe(true);
    expect(inPool(pool, '10.1.0.111')).toBe(false);
    expect(inCidr(pool, '10.1.0.5')).toBe(true);
    expect(addressPool({ ...range, poolStart: '10.1.0.0', poolEnd: '10.1.0.10' })).toBeNull();
    expect(addressPool({ ...range, poolStart: '10.1.0.20', poolEnd: '10.1.0.10' })).toBeNull();
    expect(addressPool({ ...range, cidr: 'nonsense' })).toBeNull();
  });

  it('lets a reservation lie outside the dynamic pool but never on the gateway, network or broadcast', () => {
    const pool = addressPool({ ...range, poolStart: '10.1.0.100', poolEnd: '10.1.0.110' })!;
    expect(isLeasable(pool, '10.1.0.50', true)).toBe(true);
    expect(isLeasable(pool, '10.1.0.50', false)).toBe(false);
    expect(isLeasable(pool, '10.1.0.1', true)).toBe(false);
    expect(isLeasable(pool, '10.1.0.255', true)).toBe(false);
    expect(isLeasable(pool, '10.1.1.50', true)).toBe(false);
  });
});

describe('offerCandidates (RFC 2131 §4.3.1 order)', () => {
  const pool = addressPool({ ...range, poolStart: '10.1.0.100', poolEnd: '10.1.0.199' })!;

  it('prefers the reservation, then the current lease, then the requested address', () => {
    expect(offerCandidates(pool, { reservedIp: '10.1.0.50', existingIp: '10.1.0.120', requestedIp: '10.1.0.130' })).toEqual([
      { ip: '10.1.0.50', source: 'reservation' },
      { ip: '10.1.0.120', source: 'existing' },
      { ip: '10.1.0.130', source: 'requested' },
    ]);
  });

  it('ignores a reservation outside the CIDR, a requested address outside the pool, and duplicates', () => {
    expect(offerCandidates(pool, { reservedIp: '192.168.1.5', existingIp: '10.1.0.120', requestedIp: '10.1.0.120' })).toEqual([
      { ip: '10.1.0.120', source: 'existing' },
    ]);
    expect(offerCandidates(pool, { requestedIp: '10.1.0.20' })).toEqual([]);
    expect(offerCandidates(pool, { requestedIp: '10.1.0.1' })).toEqual([]);
    expect(offerCandidates(pool, {})).toEqual([]);
  });
});

describe('firstFreeAddress', () => {
  it('skips excluded and taken addresses and returns null when the pool is full', () => {
    const pool = addressPool({ ...range, poolStart: '10.1.0.1', poolEnd: '10.1.0.4' }, ['10.1.0.2'])!;
    expect(firstFreeAddress(pool, new Set())).toBe('10.1.0.3'); // .1 gateway, .2 server
    expect(firstFreeAddress(pool, new Set([parseIpv4('10.1.0.3')!]))).toBe('10.1.0.4');
    expect(firstFreeAddress(pool, new Set([parseIpv4('10.1.0.3')!, parseIpv4('10.1.0.4')!]))).toBeNull();
  });
});

describe('quarantineMac', () => {
  it('derives a group (never a station) MAC from the address, unique per address', () => {
    expect(quarantineMac('10.1.0.100')).toBe('ff:ff:0a:01:00:64');
    expect(quarantineMac('10.1.0.101')).not.toBe(quarantineMac('10.1.0.100'));
    expect(() => quarantineMac('nope')).toThrow(RangeError);
  });
});
