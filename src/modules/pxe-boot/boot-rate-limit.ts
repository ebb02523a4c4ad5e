import { Logger } from '@nestjs/common';
import { TokenBucketLimiter } from './token-bucket';

/** Refusals of one address are logged at most this often (the rest are counted into the next line). */
export const REFUSAL_LOG_INTERVAL_MS = 60_000;

/**
 * Logs a line per key at most once per `intervalMs`; lines held back are counted and the next line that goes out
 * says how many. Bounded: at most `maxKeys` keys are remembered (the oldest is forgotten first, and simply logs
 * again when it comes back).
 */
export class ThrottledLog {
  private readonly last = new Map<string, { atMs: number; suppressed: number }>();

  constructor(
    private readonly write: (line: string) => void,
    private readonly intervalMs = REFUSAL_LOG_INTERVAL_MS,
    private readonly maxKeys = 4096,
  ) {}

  /** Writes `line()` for `key` unless one went out less than the interval ago. Returns whether it was written. */
  log(key: string, line: (suppressed: number) => string, nowMs: number = Date.now()): boolean {
    const seen = this.last.get(key);
    if (seen && nowMs - seen.atMs < this.intervalMs) {
      seen.suppressed++;
      return false;
    }
    this.last.delete(key);
    this.last.set(key, { atMs: nowMs, suppressed: 0 });
    while (this.last.size > this.maxKeys) this.last.delete(this.last.keys().next().value as string);
    this.write(line(seen?.suppressed ?? 0));
    return true;
  }

  /** Keys remembered now. */
  get size(): number {
    return this.last.size;
  }
}

/** A refused request: seconds to put in `Retry-After`. */
export interface RateRefusal {
  retryAfter: number;
  /** Whether this refusal was logged (the first of its address this minute). */
  logged: boolean;
}

/**
 * The per-source-address limit of the boot routes (`DLS_BOOT_RATE_BURST`, `DLS_BOOT_RATE_PER_SECOND`; `null` = off).
 * A refusal is logged at most once per address per minute (a misbehaving host retrying in a loop used to write a
 * WARN per request); the caller counts every refusal in the metrics.
 */
export class BootRateLimiter {
  private readonly buckets: TokenBucketLimiter | null;
  private readonly refusals: ThrottledLog;

  constructor(limit: { burst: number; refillPerSecond: number } | null, logger: Pick<Logger, 'warn'> = new Logger(BootRateLimiter.name)) {
    this.buckets = limit ? new TokenBucketLimiter(limit) : null;
    this.refusals = new ThrottledLog((line) => logger.warn(line));
  }

  /** Whether limiting is on. */
  get enabled(): boolean {
    return this.buckets !== null;
  }

  /** Takes a token for `address`: null when the request may go on, else the refusal. */
  take(address: string, nowMs: number = Date.now()): RateRefusal | null {
    if (!this.buckets || this.buckets.take(address, nowMs)) return null;
    const logged = this.refusals.log(
      address,
      (held) =>
        `boot requests from ${address} rate-limited${held ? ` (${held} more refusals in the last minute not logged)` : ''}; ` +
        'see DLS_BOOT_RATE_BURST / DLS_BOOT_RATE_PER_SECOND',
      nowMs,
    );
    return { retryAfter: Math.max(1, this.buckets.retryAfterSeconds(address, nowMs)), logged };
  }
}
