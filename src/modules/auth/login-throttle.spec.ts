import { LoginThrottle } from './login-throttle';

describe('LoginThrottle', () => {
  let now: number;
  const clock = () => now;
  const make = () => new LoginThrottle({ maxFailuresPerUser: 3, maxFailuresPerAddress: 5, windowMs: 60_000, now: clock });

  beforeEach(() => {
    now = 1_000_000;
  });

  it('allows attempts below the per-user limit and blocks at it, with the time until the oldest failure expires', () => {
    const t = make();
    for (let i = 0; i < 3; i++) {
      expect(t.check('alice', '10.0.0.1')).toEqual({ allowed: true });
      t.recordFailure('alice', '10.0.0.1');
      now += 10_000;
    }
    // failures at 0 s, 10 s, 20 s; now = 30 s → first leaves the window at 60 s
    expect(t.check('alice', '10.0.0.1')).toEqual({ allowed: false, retryAfterSeconds: 30 });
    expect(t.check('alice', '10.0.0.2')).toEqual({ allowed: false, retryAfterSeconds: 30 });
    expect(t.check('bob', '10.0.0.1')).toEqual({ allowed: true });
  });

  it('unblocks once the oldest failure leaves the sliding window', () => {
    const t = make();
    for (let i = 0; i < 3; i++) t.recordFailure('alice', undefined);
    now += 59_999;
    expect(t.check('alice', undefined).allowed).toBe(false);
    now += 1;
    expect(t.check('alice', undefined)).toEqual({ allowed: true });
    expect(t.size).toBe(0); // expired records are dropped
  });

  it('treats usernames case-insensitively', () => {
    const t = make();
    for (let i = 0; i < 3; i++) t.recordFailure('Alice', undefined);
    expect(t.check('alice', undefined).allowed).toBe(false);
  });

  it('a success resets the username counter but not the address counter', () => {
    const t = make();
    for (let i = 0; i < 2; i++) t.recordFailure('alice', '10.0.0.1');
    for (let i = 0; i < 3; i++) t.recordFailure('carol', '10.0.0.1');
    t.recordSuccess('alice');
    t.recordFailure('alice', '10.0.0.1'); // alice: 1 failure; address: 6 ≥ 5
    expect(t.check('alice', '10.0.0.9')).toEqual({ allowed: true });
    expect(t.check('alice', '10.0.0.1').allowed).toBe(false);
  });

  it('blocks an address that tries many usernames', () => {
    const t = make();
    for (let i = 0; i < 5; i++) t.recordFailure(`user${i}`, '::ffff:192.0.2.7');
    expect(t.check('someone-new', '192.0.2.7')).toEqual({ allowed: false, retryAfterSeconds: 60 });
    expect(t.check('someone-new', '192.0.2.8')).toEqual({ allowed: true });
  });

  it('reports Retry-After from the failure that must expire, after more than max failures', () => {
    const t = make();
    for (let i = 0; i < 4; i++) {
      t.recordFailure('alice', undefined);
      now += 10_000;
    }
    // failures at 0, 10, 20, 30 s; now 40 s; 3 must remain < 3 → the one at 10 s must expire (at 70 s)
    expect(t.check('alice', undefined)).toEqual({ allowed: false, retryAfterSeconds: 30 });
  });

  it('bounds memory: beyond maxKeys the least recently failing keys are dropped', () => {
    const t = new LoginThrottle({ maxKeys: 10, now: clock });
    for (let i = 0; i < 50; i++) t.recordFailure(`user${i}`, undefined);
    expect(t.size).toBe(10);
  });
});
