import { isIPv6 } from 'node:net';

export interface LoginThrottleOptions {
  /** Failures of one username from one address within `windowMs` after which that pair is refused. Default 5. */
  maxFailuresPerPair?: number;
  /** Failures from one address (any usernames) within `windowMs` after which it is refused. Default 20. */
  maxFailuresPerAddress?: number;
  /** Failures of one username (any addresses) within `windowMs` from which its attempts are slowed down. Default 10. */
  slowDownAfterUserFailures?: number;
  /** Added delay per failure past `slowDownAfterUserFailures`. Default 200 ms. */
  slowDownStepMs?: number;
  /** Cap of the added delay. Default 2 s. */
  maxDelayMs?: number;
  /** Sliding window. Default 5 minutes. */
  windowMs?: number;
  /** Keys tracked at most; beyond this, expired ones are pruned, then the oldest dropped. Default 10 000. */
  maxKeys?: number;
  /** Clock in ms (injectable for tests). Default Date.now. */
  now?: () => number;
}

/** Answer of `check`: allowed after waiting `delayMs` (0 = at once), or refused for `retryAfterSeconds`. */
export type ThrottleVerdict = { allowed: true; delayMs: number } | { allowed: false; retryAfterSeconds: number };

/**
 * Explicit in-memory throttle of failed logins over a sliding window, keyed so that nobody can lock another person
 * out:
 * - per (username, address): after N failures that pair is refused (429) until the oldest leaves the window;
 * - per address: after M failures (any usernames) that address is refused — it guesses, or sprays usernames;
 * - per username, from any address: never refused, only slowed down by a small, capped delay once it has many
 *   recent failures, so the right password from a clean address always gets in.
 * A successful login clears its (username, address) pair only. IPv6 addresses count per /64 (what one host usually
 * holds), IPv4-mapped IPv6 as IPv4. State is per process and lost on restart, by design: it slows down guessing.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, number[]>();
  private readonly maxPerPair: number;
  private readonly maxPerAddress: number;
  private readonly slowAfter: number;
  private readonly stepMs: number;
  private readonly maxDelayMs: number;
  private readonly windowMs: number;
  private readonly maxKeys: number;
  private readonly keep: number;
  private readonly now: () => number;

  constructor(opts: LoginThrottleOptions = {}) {
    this.maxPerPair = opts.maxFailuresPerPair ?? 5;
    this.maxPerAddress = opts.maxFailuresPerAddress ?? 20;
    this.slowAfter = opts.slowDownAfterUserFailures ?? 10;
    this.stepMs = opts.slowDownStepMs ?? 200;
    this.maxDelayMs = opts.maxDelayMs ?? 2000;
    this.windowMs = opts.windowMs ?? 5 * 60_000;
    this.maxKeys = opts.maxKeys ?? 10_000;
    this.now = opts.now ?? Date.now;
    // Only the newest this-many timestamps of a key can ever matter.
    this.keep = Math.max(this.maxPerPair, this.maxPerAddress, this.slowAfter + Math.ceil(this.maxDelayMs / Math.max(1, this.stepMs)));
  }

  /** May this username try to log in from this address now, and after how long a pause? */
  check(username: string, address: string | undefined): ThrottleVerdict {
    const now = this.now();
    const waits = address
      ? [this.waitMs(pairKey(username, address), this.maxPerPair, now), this.waitMs(addrKey(address), this.maxPerAddress, now)]
      : [this.waitMs(userKey(username), this.maxPerPair, now)]; // no address known: the username alone is all we have
    const wait = Math.max(...waits);
    if (wait > 0) return { allowed: false, retryAfterSeconds: Math.ceil(wait / 1000) };
    const excess = this.live(userKey(username), now).length - this.slowAfter + 1;
    return { allowed: true, delayMs: excess > 0 ? Math.min(this.maxDelayMs, excess * this.stepMs) : 0 };
  }

  /** Counts one failed attempt against the username, the address and the pair. */
  recordFailure(username: string, address: string | undefined): void {
    const now = this.now();
    this.push(userKey(username), now);
    if (address) {
      this.push(addrKey(address), now);
      this.push(pairKey(username, address), now);
    }
  }

  /** Clears the pair's failures after a successful login (the username's and the address's stay). */
  recordSuccess(username: string, address: string | undefined): void {
    if (address) this.failures.delete(pairKey(username, address));
  }

  /** Number of keys tracked (for tests and metrics). */
  get size(): number {
    return this.failures.size;
  }

  private waitMs(key: string, max: number, now: number): number {
    const list = this.live(key, now);
    if (list.length < max) return 0;
    // Refused until enough failures leave the window that fewer than `max` remain.
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
    if (list.length > this.keep) list.shift();
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
const addrKey = (address: string) => `a:${addressBucket(address)}`;
const pairKey = (username: string, address: string) => `p:${addressBucket(address)}|${username.toLowerCase()}`;

/** The address a throttle counts: IPv4 as is (also when IPv4-mapped), IPv6 as its /64. */
export function addressBucket(address: string): string {
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (v4) return v4[1];
  if (!isIPv6(address) || address.includes('.')) return address;
  const [head, tail = ''] = address.toLowerCase().split('%')[0].split('::');
  const left = head ? head.split(':') : [];
  const right = address.includes('::') && tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}
