import type { QueryRunner } from 'typeorm';

/**
 * What entity events reported inside transactions still open, kept per transaction for a subscriber whose in-memory
 * copy must be refreshed again once the change is settled: a read between the change and its commit (on another
 * connection) still saw the old rows, so telling the cache at the event alone is not enough.
 *
 * `note` records keys changed inside a transaction (nothing outside one: that change is already committed); `end`,
 * called at a commit or rollback, hands back once what the transaction changed when that is its outermost end — a
 * savepoint's release or rollback (the runner still in its transaction) hands back nothing.
 */
export class TransactionChanges<K> {
  private readonly open = new WeakMap<QueryRunner, Set<K> | 'all'>();

  /** Records `keys` (or everything) as changed by the transaction `runner` is in, if it is in one. */
  note(runner: QueryRunner | undefined, keys: Iterable<K> | 'all'): void {
    if (!runner?.isTransactionActive) return;
    const before = this.open.get(runner);
    if (before === 'all') return;
    if (keys === 'all') {
      this.open.set(runner, 'all');
      return;
    }
    const changed = before ?? new Set<K>();
    for (const k of keys) changed.add(k);
    this.open.set(runner, changed);
  }

  /** At a commit or rollback of `runner`: what its transaction changed, once, if the transaction ended; else null. */
  end(runner: QueryRunner | undefined): Set<K> | 'all' | null {
    if (!runner || runner.isTransactionActive) return null;
    const changed = this.open.get(runner) ?? null;
    this.open.delete(runner);
    return changed;
  }
}
