export interface LoginThrottleOptions {
  /** Failures per username within `windowMs` after which further attempts are refused. Default 5. */
  maxFailuresPerUser?: number;
  /** Failures per remote address within `windowMs` (higher: one address may front several users). Default 20. */
  maxFailuresPerAddress?: number;
  /** Sliding window. Default 5 minutes. */
  windowMs?: number;
  /** Keys tracked at most; beyond this, expired ones are pruned, then the oldest dropped. Default 10 000. */
  maxKeys?: number;
  /** Clock in ms (injectable for tests). Default Date.now. */
  now?: () => number;
}

/** Answer of `check`: allowed, or blocked for `retryAfterSeconds`. */
export type ThrottleVerdict = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/**
 * Explicit in-memory throttle of failed logins, per username and per remote address, over a sliding window: after
 * N failures inside the window, attempts are refused until the oldest of them leaves it. A successful login clears
 * the username's record (not the address's). State is per process and lost on restart, by design: it slows down
 * guessing, it is not an account lock-out.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, number[]>();
  private readonly maxPerUser: number;
  private readonly maxPerAddress: number;
  private readonly windowMs: number;
  private readonly maxKeys: number;
  private readonly now: () => number;

  constructor(opts: LoginThrottleOptions = {}) {
    this.maxPerUser = opts.maxFailuresPerUser ?? 5;
    this.maxPerAddress = opts.maxFailuresPerAddress ?? 20;
    this.windowMs = opts.windowMs ?? 5 * 60_000;
    this.maxKeys = opts.maxKeys ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  /** May this username try to log in from this address now? */
  check(username: string, address: string | undefined): ThrottleVerdict {
    const now = this.now();
    const waits = [this.waitMs(userKey(username), this.maxPerUser, now)];
    if (address) waits.push(this.waitMs(addrKey(address), this.maxPerAddress, now));
    const wait = Math.max(...waits);
    return wait > 0 ? { allowed: false, retryAfterSeconds: Math.ceil(wait / 1000) } : { allowed: true };
  }

  /** Counts one failed attempt against the username and the address. */
  recordFailure(username: string, address: string | undefined): void {
    const now = this.now();
    this.push(userKey(username), now);
    if (address) this.push(addrKey(address), now);
  }

  /** Clears the username's failures after a successful login. */
  recordSuccess(username: string): void {
    this.failures.delete(userKey(username));
  }

  /** Number of keys tracked (for tests and metrics). */
  get size(): number {
    return this.failures.size;
  }

  private waitMs(key: string, max: number, now: number): number {
    const list = this.live(key, now);
    if (list.length < max) return 0;
    // Blocked until enough failures leave the window that fewer than `max` remain.
    return list[list.length - max] + this.windowMs - now;
  }

  private live(key: string, now: number): number[] {
    const list = this.failures.get(key);
    if (!list) return [];
    const cutoff = now - this.windowMs;
    let i = 0;
    while (i < list.length && list[i] <= cutoff) i++;
    if (i === list.length) {
      this.failures.delete(key);
      return [];
    }
    if (i > 0) list.splice(0, i);
    return list;
  }

  private push(key: string, now: number): void {
    const list = this.live(key, now);
    list.push(now);
    // Only the newest max(user, address) timestamps can ever matter.
    if (list.length > Math.max(this.maxPerUser, this.maxPerAddress)) list.shift();
    this.failures.delete(key); // re-insert: Map order = least recently failed first
    this.failures.set(key, list);
    if (this.failures.size > this.maxKeys) this.evict(now);
  }

  private evict(now: number): void {
    for (const key of [...this.failures.keys()]) this.live(key, now);
    while (this.failures.size > this.maxKeys) {
      const oldest = this.failures.keys().next().value as string;
      this.failures.delete(oldest);
    }
  }
}

const userKey = (username: string) => `u:${username.toLowerCase()}`;
const addrKey = (address: string) => `a:${address.replace(/^::ffff:/, '')}`;
