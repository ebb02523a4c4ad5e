import { LOGIN_LINGER_MS, RecentLogins } from './recent-logins';

const T0 = Date.parse('2026-12-05T10:00:00Z');
const login = (ip: string | null) => ({ ip, since: new Date(T0 - 60_000) });

describe('RecentLogins', () => {
  it('remembers the address of a listed login for LOGIN_LINGER_MS after the last listing that showed it', () => {
    const r = new RecentLogins();
    r.record(new Map([['a', login('10.0.0.5')]]), T0);
    r.record(new Map(), T0 + 2000); // the login is gone from this listing (tgt dropped it; the client reconnects)
    expect(r.recentIp('a', T0 + LOGIN_LINGER_MS)).toBe('10.0.0.5');
    expect(r.recentIp('a', T0 + LOGIN_LINGER_MS + 1)).toBeNull();
    expect(r.recentIp('a', T0)).toBeNull(); // dropped for good once expired
  });

  it('a newer listing moves the window and the address', () => {
    const r = new RecentLogins();
    r.record(new Map([['a', login('10.0.0.5')]]), T0);
    r.record(new Map([['a', login('10.0.0.6')]]), T0 + 8000);
    expect(r.recentIp('a', T0 + 8000 + LOGIN_LINGER_MS)).toBe('10.0.0.6');
  });

  it('ignores logins without an address and unknown clients; prunes old entries on record', () => {
    const r = new RecentLogins();
    r.record(new Map([['a', login(null)]]), T0);
    expect(r.recentIp('a', T0)).toBeNull();
    expect(r.recentIp('zz', T0)).toBeNull();
    r.record(new Map([['b', login('10.0.0.9')]]), T0);
    r.record(new Map(), T0 + LOGIN_LINGER_MS + 1);
    expect((r as unknown as { seen: Map<string, unknown> }).seen.size).toBe(0);
  });
});
