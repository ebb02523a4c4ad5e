import { TokenBucketLimiter } from './token-bucket';

describe('TokenBucketLimiter', () => {
  it('allows a burst, then refills at the configured rate', () => {
    const l = new TokenBucketLimiter({ burst: 3, refillPerSecond: 2 });
    const t0 = 1_000_000;
    expect([l.take('a', t0), l.take('a', t0), l.take('a', t0), l.take('a', t0)]).toEqual([true, true, true, false]);
    expect(l.retryAfterSeconds('a', t0)).toBe(1);
    expect(l.take('a', t0 + 400)).toBe(false); // 0.8 token
    expect(l.take('a', t0 + 500)).toBe(true); // 1.0 token
    expect(l.take('a', t0 + 500)).toBe(false);
    expect(l.take('a', t0 + 60_000)).toBe(true); // refills to the burst, not beyond
    expect(l.take('a', t0 + 60_000)).toBe(true);
    expect(l.take('a', t0 + 60_000)).toBe(true);
    expect(l.take('a', t0 + 60_000)).toBe(false);
  });

  it('keeps keys apart', () => {
    const l = new TokenBucketLimiter({ burst: 1, refillPerSecond: 0.1 });
    expect(l.take('10.0.0.1', 0)).toBe(true);
    expect(l.take('10.0.0.1', 0)).toBe(false);
    expect(l.take('10.0.0.2', 0)).toBe(true);
    expect(l.retryAfterSeconds('10.0.0.1', 0)).toBe(10);
    expect(l.retryAfterSeconds('unknown', 0)).toBe(0);
  });

  it('evicts the least recently used key beyond maxKeys', () => {
    const l = new TokenBucketLimiter({ burst: 1, refillPerSecond: 0.001, maxKeys: 2 });
    l.take('a', 0);
    l.take('b', 0);
    l.take('a', 1); // a is now the most recent
    l.take('c', 2); // evicts b
    expect(l.size).toBe(2);
    expect(l.take('a', 3)).toBe(false); // a kept its (empty) bucket
    expect(l.take('b', 3)).toBe(true); // b was evicted: a fresh bucket
  });

  it('does not go backwards in time', () => {
    const l = new TokenBucketLimiter({ burst: 1, refillPerSecond: 1 });
    expect(l.take('a', 10_000)).toBe(true);
    expect(l.take('a', 5_000)).toBe(false);
  });

  it('rejects nonsense options', () => {
    expect(() => new TokenBucketLimiter({ burst: 0, refillPerSecond: 1 })).toThrow(RangeError);
    expect(() => new TokenBucketLimiter({ burst: 1, refillPerSecond: 0 })).toThrow(RangeError);
    expect(() => new TokenBucketLimiter({ burst: 1, refillPerSecond: 1, maxKeys: 0 })).toThrow(RangeError);
  });
});
