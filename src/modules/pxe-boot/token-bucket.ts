/**
 * Per-key token buckets: each key (a client's source address) may make `burst` requests at once and then
 * `refillPerSecond` more per second. Used to keep a misbehaving or hostile host on a boot network from making DLS
 * clone disks and create iSCSI exports in a loop. Explicit, bounded state: at most `maxKeys` buckets, the least
 * recently used one is evicted first (an evicted key simply starts again with a full bucket).
 */
export interface TokenBucketOptions {
  /** Bucket size: requests allowed back to back. */
  burst: number;
  /** Tokens added per second. */
  refillPerSecond: number;
  /** Buckets kept at most (default 4096). */
  maxKeys?: number;
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

export class TokenBucketLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly maxKeys: number;

  constructor(private readonly opts: TokenBucketOptions) {
    if (!(opts.burst >= 1) || !(opts.refillPerSecond > 0)) throw new RangeError('burst must be >= 1 and refillPerSecond > 0');
    this.maxKeys = opts.maxKeys ?? 4096;
    if (!Number.isInteger(this.maxKeys) || this.maxKeys < 1) throw new RangeError('maxKeys must be a positive integer');
  }

  /** Takes one token for `key`; false (and nothing taken) when the bucket is empty. */
  take(key: string, nowMs: number = Date.now()): boolean {
    let b = this.buckets.get(key);
    if (b) {
      this.buckets.delete(key); // re-inserted below: Map order is the LRU order
      const elapsed = Math.max(0, nowMs - b.updatedMs) / 1000;
      b = { tokens: Math.min(this.opts.burst, b.tokens + elapsed * this.opts.refillPerSecond), updatedMs: nowMs };
    } else {
      b = { tokens: this.opts.burst, updatedMs: nowMs };
    }
    const ok = b.tokens >= 1;
    if (ok) b.tokens -= 1;
    this.buckets.set(key, b);
    while (this.buckets.size > this.maxKeys) this.buckets.delete(this.buckets.keys().next().value as string);
    return ok;
  }

  /** Seconds until `key` has a token again (0 when it has one now). */
  retryAfterSeconds(key: string, nowMs: number = Date.now()): number {
    const b = this.buckets.get(key);
    if (!b) return 0;
    const tokens = Math.min(this.opts.burst, b.tokens + (Math.max(0, nowMs - b.updatedMs) / 1000) * this.opts.refillPerSecond);
    return tokens >= 1 ? 0 : Math.ceil((1 - tokens) / this.opts.refillPerSecond);
  }

  /** Buckets currently kept. */
  get size(): number {
    return this.buckets.size;
  }
}
