import { LEASE_MEMO_TTL_MS, LeaseMemo } from './lease-memo';

describe('LeaseMemo', () => {
  const MAC = '52:54:00:00:00:01';

  it('answers a lease read within its TTL, not after, and never past the lease expiry', () => {
    const memo = new LeaseMemo();
    memo.set('r1', MAC, { ip: '10.0.0.5', expiresAtMs: 1_000_000 }, 0);
    expect(memo.get('r1', MAC, LEASE_MEMO_TTL_MS - 1)).toEqual({ ip: '10.0.0.5', expiresAtMs: 1_000_000 });
    expect(memo.get('r2', MAC, 1)).toBeUndefined(); // per range
    expect(memo.get('r1', MAC, LEASE_MEMO_TTL_MS)).toBeUndefined();
    memo.set('r1', MAC, { ip: '10.0.0.5', expiresAtMs: 100 }, 0);
    expect(memo.get('r1', MAC, 100)).toBeUndefined(); // the lease ran out before the memo did
    memo.set('r1', MAC, { ip: null, expiresAtMs: 0 }, 0);
    expect(memo.get('r1', MAC, 100)).toEqual({ ip: null, expiresAtMs: 0 }); // "no lease" is remembered too
  });

  it('forgets a MAC at once when DHCP saw it (every range)', () => {
    const memo = new LeaseMemo();
    memo.set('r1', MAC, { ip: '10.0.0.5', expiresAtMs: Date.now() + 60_000 });
    memo.set('r2', MAC, { ip: '10.1.0.5', expiresAtMs: Date.now() + 60_000 });
    memo.forget(MAC);
    expect(memo.get('r1', MAC)).toBeUndefined();
    expect(memo.get('r2', MAC)).toBeUndefined();
    expect(memo.size).toBe(0);
  });
});
