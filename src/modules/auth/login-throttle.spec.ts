import { addressBucket, LoginThrottle } from './login-throttle';

describe('LoginThrottle', () => {
  let now: number;
  const clock = () => now;
  const make = () =>
    new LoginThrottle({
      maxFailuresPerPair: 3,
      maxFailuresPerAddress: 5,
      slowDownAfterUserFailures: 4,
      slowDownStepMs: 100,
      maxDelayMs: 250,
      windowMs: 60_000,
      now: clock,
    });
  const ok = { allowed: true, delayMs: 0 };

  beforeEach(() => {
    now = 1_000_000;
  });

  it('refuses a (username, address) pair at its limit, with the time until the oldest failure expires', () => {
    const t = make();
    for (let i = 0; i < 3; i++) {
      expect(t.check('alice', '10.0.0.1')).toEqual(ok);
      t.recordFailure('alice', '10.0.0.1');
      now += 10_000;
    }
    // failures at 0 s, 10 s, 20 s; now = 30 s → first leaves the window at 60 s
    expect(t.check('alice', '10.0.0.1')).toEqual({ allowed: false, retryAfterSeconds: 30 });
    expect(t.check('bob', '10.0.0.1')).toEqual(ok);
  });

  it('never refuses a username from a clean address, however many addresses failed for it', () => {
    const t = make();
    for (let a = 1; a <= 50; a++) for (let i = 0; i < 3; i++) t.recordFailure('admin', `10.0.1.${a}`);
    expect(t.check('admin', '10.0.1.1').allowed).toBe(false); // the guessers are refused…
    expect(t.check('admin', '10.0.2.1').allowed).toBe(true); // …the admin elsewhere only waits a little
  });

  it('slows a username down past its own limit by a small capped delay, counted over all addresses', () => {
    const t = make();
    const delay = () => {
      const v = t.check('alice', '192.0.2.200');
      if (!v.allowed) throw new Error('refused');
      return v.delayMs;
    };
    for (let i = 0; i < 3; i++) t.recordFailure('alice', `192.0.2.${i}`);
    expect(delay()).toBe(0);
    t.recordFailure('alice', '192.0.2.3'); // 4 failures: the 5th attempt waits
    expect(delay()).toBe(100);
    t.recordFailure('alice', '192.0.2.4');
    expect(delay()).toBe(200);
    for (let i = 0; i < 10; i++) t.recordFailure('alice', `192.0.2.${10 + i}`);
    expect(delay()).toBe(250);
    now += 60_000;
    expect(delay()).toBe(0);
  });

  it('unblocks once the oldest failure leaves the sliding window, and forgets expired records', () => {
    const t = make();
    for (let i = 0; i < 3; i++) t.recordFailure('alice', '10.0.0.1');
    now += 59_999;
    expect(t.check('alice', '10.0.0.1').allowed).toBe(false);
    now += 1;
    expect(t.check('alice', '10.0.0.1')).toEqual(ok);
    expect(t.size).toBe(0);
  });

  it('treats usernames case-insensitively', () => {
    const t = make();
    for (let i = 0; i < 3; i++) t.recordFailure('Alice', '10.0.0.1');
    expect(t.check('alice', '10.0.0.1').allowed).toBe(false);
  });

  it('a success clears its pair, not the address nor the username', () => {
    const t = make();
    for (let i = 0; i < 2; i++) t.recordFailure('alice', '10.0.0.1');
    for (let i = 0; i < 2; i++) t.recordFailure('carol', '10.0.0.1');
    t.recordSuccess('alice', '10.0.0.1');
    for (let i = 0; i < 2; i++) t.recordFailure('alice', '10.0.0.1'); // pair: 2 < 3
    expect(t.check('alice', '10.0.0.9')).toEqual({ allowed: true, delayMs: 100 }); // alice: 4 failures in all
    expect(t.check('dave', '10.0.0.1').allowed).toBe(false); // address: 6 ≥ 5
  });

  it('refuses an address that sprays usernames', () => {
    const t = make();
    for (let i = 0; i < 5; i++) t.recordFailure(`user${i}`, '::ffff:192.0.2.7');
    expect(t.check('someone-new', '192.0.2.7')).toEqual({ allowed: false, retryAfterSeconds: 60 });
    expect(t.check('someone-new', '192.0.2.8')).toEqual(ok);
  });

  it('counts an IPv6 /64 as one address', () => {
    const t = make();
    for (let i = 1; i <= 5; i++) t.recordFailure(`user${i}`, `2001:db8:0:1::${i}`);
    expect(t.check('x', '2001:db8:0:1:ffff::1').allowed).toBe(false);
    expect(t.check('x', '2001:db8:0:2::1').allowed).toBe(true);
  });

  it('without a known address, throttles by username (pair limit)', () => {
    const t = make();
    for (let i = 0; i < 3; i++) t.recordFailure('alice', undefined);
    expect(t.check('alice', undefined).allowed).toBe(false);
  });

  it('reports Retry-After from the failure that must expire, after more than max failures', () => {
    const t = make();
    for (let i = 0; i < 4; i++) {
      t.recordFailure('alice', '10.0.0.1');
      now += 10_000;
    }
    // failures at 0, 10, 20, 30 s; now 40 s; fewer than 3 must remain → the one at 10 s must expire (at 70 s)
    expect(t.check('alice', '10.0.0.1')).toEqual({ allowed: false, retryAfterSeconds: 30 });
  });

  it('bounds memory: beyond maxKeys the least recently failing keys are dropped', () => {
    const t = new LoginThrottle({ maxKeys: 10, now: clock });
    for (let i = 0; i < 50; i++) t.recordFailure(`user${i}`, `10.0.0.${i}`);
    expect(t.size).toBe(10);
  });

  it.each([
    ['192.0.2.1', '192.0.2.1'],
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['2001:0db8:0000:0001:abcd::1', '2001:db8:0:1::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
  ])('buckets %s as %s', (address, bucket) => {
    expect(addressBucket(address)).toBe(bucket);
  });
});
