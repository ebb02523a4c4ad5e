import { BootRateLimiter, REFUSAL_LOG_INTERVAL_MS, ThrottledLog } from './boot-rate-limit';

describe('ThrottledLog', () => {
  it('writes one line per key per interval and says how many it held back', () => {
    const lines: string[] = [];
    const log = new ThrottledLog((l) => lines.push(l), 60_000);
    expect(log.log('a', (n) => `a held=${n}`, 0)).toBe(true);
    for (let t = 1; t <= 500; t++) expect(log.log('a', (n) => `a held=${n}`, t * 100)).toBe(false);
    expect(log.log('b', (n) => `b held=${n}`, 1000)).toBe(true); // another key is not held back by a
    expect(log.log('a', (n) => `a held=${n}`, 60_000)).toBe(true);
    expect(lines).toEqual(['a held=0', 'b held=0', 'a held=500']);
  });

  it('remembers at most maxKeys keys (the oldest goes first and simply logs again)', () => {
    const lines: string[] = [];
    const log = new ThrottledLog((l) => lines.push(l), 60_000, 3);
    for (const k of ['a', 'b', 'c', 'd']) log.log(k, () => k, 0);
    expect(log.size).toBe(3);
    log.log('a', () => 'a again', 1);
    log.log('d', () => 'd again', 1);
    expect(lines).toEqual(['a', 'b', 'c', 'd', 'a again']);
  });
});

describe('BootRateLimiter', () => {
  const quiet = () => {
    const warned: string[] = [];
    return { warned, logger: { warn: (l: string) => void warned.push(l) } };
  };

  it('lets a burst through, then refuses with Retry-After ≥ 1 s, logging the address once a minute', () => {
    const { warned, logger } = quiet();
    const limiter = new BootRateLimiter({ burst: 3, refillPerSecond: 0.5 }, logger);
    for (let i = 0; i < 3; i++) expect(limiter.take('10.0.0.5', 1000)).toBeNull();
    const first = limiter.take('10.0.0.5', 1000);
    expect(first).toEqual({ retryAfter: 2, logged: true });
    for (let i = 0; i < 1000; i++) expect(limiter.take('10.0.0.5', 1000 + i)?.logged).toBe(false);
    expect(limiter.take('10.0.0.6', 1000)).toBeNull(); // per address
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatch(/10\.0\.0\.5 rate-limited.*DLS_BOOT_RATE_BURST/);
    // A minute later the next refusal is logged again, with the count of those held back.
    for (let i = 0; i < 40; i++) limiter.take('10.0.0.5', 1000 + REFUSAL_LOG_INTERVAL_MS);
    expect(warned).toHaveLength(2);
    expect(warned[1]).toMatch(/1000 more refusals in the last minute not logged/);
  });

  it('off (null) refuses nothing', () => {
    const { warned, logger } = quiet();
    const limiter = new BootRateLimiter(null, logger);
    expect(limiter.enabled).toBe(false);
    for (let i = 0; i < 10_000; i++) expect(limiter.take('10.0.0.5', 0)).toBeNull();
    expect(warned).toEqual([]);
  });
});
