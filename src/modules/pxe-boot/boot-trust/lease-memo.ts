import { Injectable } from '@nestjs/common';

/** How long a lease read for the trust check is reused when no DHCP packet of that MAC says it may have moved. */
export const LEASE_MEMO_TTL_MS = 5000;

/** The address DLS leases to a MAC in one range as the trust check needs it, or null: no active lease. */
export interface LeaseFact {
  ip: string | null;
  /** When that lease expires (ms since the epoch); the fact is void after it. */
  expiresAtMs: number;
}

/** MACs remembered at most (the oldest go first). */
const MAX_MACS = 16_384;

interface Memo {
  fact: LeaseFact;
  atMs: number;
}

/**
 * The boot routes' memory of each MAC's lease (full-mode ranges), so the repeated script request of a boot costs no
 * lease query: an entry lives {@link LEASE_MEMO_TTL_MS} at most, never past the lease's expiry, and any DHCP packet
 * of that MAC drops it at once (the boot session tracker calls {@link forget} — a lease only moves through DHCP).
 * Bounded: the oldest entries go first beyond `maxEntries`.
 */
@Injectable()
export class LeaseMemo {
  /** MAC → range id → memo (a MAC has an entry in one range, rarely two). */
  private readonly memo = new Map<string, Map<string, Memo>>();
  private readonly maxMacs = MAX_MACS;

  get(rangeId: string, mac: string, nowMs: number = Date.now()): LeaseFact | undefined {
    const m = this.memo.get(mac)?.get(rangeId);
    if (!m) return undefined;
    if (nowMs - m.atMs >= LEASE_MEMO_TTL_MS || (m.fact.ip !== null && m.fact.expiresAtMs <= nowMs)) {
      this.memo.get(mac)?.delete(rangeId);
      return undefined;
    }
    return m.fact;
  }

  set(rangeId: string, mac: string, fact: LeaseFact, nowMs: number = Date.now()): void {
    const ranges = this.memo.get(mac) ?? new Map<string, Memo>();
    this.memo.delete(mac); // re-inserted: Map order is age order
    ranges.set(rangeId, { fact, atMs: nowMs });
    this.memo.set(mac, ranges);
    while (this.memo.size > this.maxMacs) this.memo.delete(this.memo.keys().next().value as string);
  }

  /** Drops every range's entry of `mac` (a DHCP packet of it was seen). O(1). */
  forget(mac: string): void {
    this.memo.delete(mac);
  }

  /** MACs remembered. */
  get size(): number {
    return this.memo.size;
  }
}
