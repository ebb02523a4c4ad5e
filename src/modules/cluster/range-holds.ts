/**
 * The ranges this node holds, as its DHCP sees them: pure bookkeeping with an injected clock, so every rule has a unit
 * test without a database.
 *
 * The database decides who holds a range (`range_owners.expires_at`, in the database's clock); this node only trusts
 * its hold until `sentAt + lease - margin` by its own monotonic clock, where `sentAt` is when it *sent* the statement
 * that took or renewed the hold. The database set `expires_at = now() + lease` no earlier than that, so this node
 * stops answering before any other node may take the range, even if the renewal's answer came back late, the event
 * loop stalled or the database went away: no two nodes answer DHCP for one range at the same time (clocks may differ
 * between hosts; their rates, over one lease, by far less than the margin).
 */
export interface Hold {
  epoch: string;
  /** Monotonic ms (the clock's) until which this node may answer for the range. */
  validUntil: number;
}

export class RangeHolds {
  private readonly table = new Map<string, Hold>();

  constructor(
    private readonly leaseMs: number,
    /** Kept back from each hold: at least a second, a tenth of the lease. */
    private readonly marginMs = Math.max(1000, leaseMs / 10),
    private readonly now: () => number = () => performance.now(),
  ) {
    if (marginMs >= leaseMs) throw new Error(`the margin (${marginMs} ms) must be shorter than the lease (${leaseMs} ms)`);
  }

  /** This node may answer for the range right now. O(1): DHCP asks per packet. */
  holds(rangeId: string): boolean {
    const h = this.table.get(rangeId);
    return h !== undefined && h.validUntil > this.now();
  }

  /** The ranges held now. */
  held(): string[] {
    const t = this.now();
    return [...this.table].filter(([, h]) => h.validUntil > t).map(([id]) => id);
  }

  epochOf(rangeId: string): string | null {
    return this.table.get(rangeId)?.epoch ?? null;
  }

  /** A statement sent at `sentAt` (this clock) took or renewed these holds. Returns the ranges that are new holds. */
  confirmed(rows: readonly { rangeId: string; epoch: string }[], sentAt: number): string[] {
    const gained: string[] = [];
    const validUntil = sentAt + this.leaseMs - this.marginMs;
    for (const r of rows) {
      const before = this.table.get(r.rangeId);
      if (!before || before.epoch !== r.epoch || before.validUntil <= this.now()) gained.push(r.rangeId);
      this.table.set(r.rangeId, { epoch: r.epoch, validUntil: Math.max(validUntil, before?.epoch === r.epoch ? before.validUntil : 0) });
    }
    return gained;
  }

  /** Drops holds (renewal refused, handed back, range gone). Returns those that were held until now. */
  drop(rangeIds: Iterable<string>): string[] {
    const lost: string[] = [];
    for (const id of rangeIds) {
      if (this.holds(id)) lost.push(id);
      this.table.delete(id);
    }
    return lost;
  }

  /** Holds whose time ran out without renewal: forgotten (this node stopped answering for them at that moment). */
  expire(): string[] {
    const t = this.now();
    const gone = [...this.table].filter(([, h]) => h.validUntil <= t).map(([id]) => id);
    for (const id of gone) this.table.delete(id);
    return gone;
  }

  /** Every range this node has a hold row for, valid or not (what it renews). */
  known(): string[] {
    return [...this.table.keys()];
  }
}
