/**
 * The bounded, deadline-aware queue in front of the DHCP handler (one per interface). Framework-free.
 *
 * Why not a plain FIFO: in a boot storm a FIFO fills up, every answer leaves after the client has already
 * retransmitted (RFC 2131 §4.1: first retransmit after 4 s ± 1 s; iPXE after 1 s), the server spends all its time on
 * requests nobody waits for any more and its useful rate falls to zero. Here:
 * - a request older than the deadline is dropped, not served (counted as `stale`);
 * - the queue holds at most `capacity` requests: when full, the oldest DISCOVER (else the oldest other request) is
 *   dropped (`overflow`), so memory stays bounded whatever arrives;
 * - a retransmission (same client, transaction id and type) replaces its queued copy (`superseded`): only its last
 *   copy is worth an answer;
 * - requests that complete an exchange already started (REQUEST, DECLINE, RELEASE) go before new ones (DISCOVER,
 *   INFORM): an OFFER already cost work and holds an address, finishing its DORA is worth more than starting another;
 * - within a lane the newest is served first (LIFO). Under no load the queue is empty and order does not matter;
 *   under overload the newest requests are the ones whose clients still listen, while the oldest age out.
 */

/** Why a queued request was not served. */
export type QueueDropReason = 'stale' | 'overflow' | 'superseded';

export interface RequestQueueOptions<T> {
  /** Requests held at most (both lanes). */
  capacity: number;
  /** A request that waited longer than this (ms) is dropped when it reaches the head. */
  deadlineMs: number;
  /** Called for each request dropped (not for served ones). */
  onDrop?: (item: T, reason: QueueDropReason) => void;
  now?: () => number;
}

interface Entry<T> {
  item: T;
  arrivedAt: number;
  key: string | null;
  dead: boolean;
}

/** One lane: entries in arrival order; taken from the tail (newest), aged out from the head (oldest). */
class Lane<T> {
  private entries: Entry<T>[] = [];
  private head = 0;
  live = 0;

  push(e: Entry<T>): void {
    this.entries.push(e);
    this.live++;
  }

  /** The oldest live entry, or null. */
  oldest(): Entry<T> | null {
    while (this.head < this.entries.length && this.entries[this.head].dead) this.head++;
    this.compact();
    return this.head < this.entries.length ? this.entries[this.head] : null;
  }

  /** Removes and returns the oldest live entry. */
  shift(): Entry<T> | null {
    const e = this.oldest();
    if (!e) return null;
    this.head++;
    this.live--;
    this.compact();
    return e;
  }

  /** Removes and returns the newest live entry. */
  pop(): Entry<T> | null {
    while (this.entries.length > this.head) {
      const e = this.entries.pop()!;
      if (!e.dead) {
        this.live--;
        this.compact();
        return e;
      }
    }
    this.compact();
    return null;
  }

  kill(e: Entry<T>): void {
    if (e.dead) return;
    e.dead = true;
    this.live--;
  }

  private compact(): void {
    if (this.head === this.entries.length) {
      this.entries = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}

/** What {@link RequestQueue.take} hands out: the item and when it arrived. */
export interface Dequeued<T> {
  item: T;
  arrivedAt: number;
}

/** See the file comment. */
export class RequestQueue<T> {
  private readonly urgent = new Lane<T>();
  private readonly normal = new Lane<T>();
  private readonly byKey = new Map<string, { lane: Lane<T>; entry: Entry<T> }>();
  private readonly capacity: number;
  private readonly deadlineMs: number;
  private readonly onDrop: (item: T, reason: QueueDropReason) => void;
  private readonly now: () => number;
  /** Drops since construction, by reason. */
  readonly dropped: Record<QueueDropReason, number> = { stale: 0, overflow: 0, superseded: 0 };

  constructor(options: RequestQueueOptions<T>) {
    if (!(options.capacity >= 1)) throw new RangeError('capacity must be at least 1');
    if (!(options.deadlineMs > 0)) throw new RangeError('deadlineMs must be positive');
    this.capacity = options.capacity;
    this.deadlineMs = options.deadlineMs;
    this.onDrop = options.onDrop ?? (() => undefined);
    this.now = options.now ?? Date.now;
  }

  /** Requests waiting. */
  get depth(): number {
    return this.urgent.live + this.normal.live;
  }

  /**
   * Queues `item`, which arrived at `arrivedAt` (default now). `key` (client and message type) lets a newer copy
   * replace a waiting one; `urgent` puts it in the lane served first.
   */
  push(item: T, opts: { key?: string | null; urgent?: boolean; arrivedAt?: number } = {}): void {
    const lane = opts.urgent ? this.urgent : this.normal;
    const entry: Entry<T> = { item, arrivedAt: opts.arrivedAt ?? this.now(), key: opts.key ?? null, dead: false };
    if (entry.key !== null) {
      const previous = this.byKey.get(entry.key);
      if (previous) {
        previous.lane.kill(previous.entry);
        this.drop(previous.entry, 'superseded');
      }
      this.byKey.set(entry.key, { lane, entry });
    }
    lane.push(entry);
    while (this.depth > this.capacity) {
      const victim = this.normal.shift() ?? this.urgent.shift();
      if (!victim) break;
      this.forget(victim);
      this.drop(victim, 'overflow');
    }
  }

  /** The next request to serve (urgent lane first, newest first), dropping those past the deadline; null if none. */
  take(): Dequeued<T> | null {
    const now = this.now();
    for (const lane of [this.urgent, this.normal]) {
      this.expire(lane, now);
      const e = lane.pop();
      if (e) {
        this.forget(e);
        return { item: e.item, arrivedAt: e.arrivedAt };
      }
    }
    return null;
  }

  /** Drops every waiting request past the deadline (also done by {@link take}). */
  expireAll(): void {
    const now = this.now();
    this.expire(this.urgent, now);
    this.expire(this.normal, now);
  }

  /** Empties the queue without counting drops (shutdown). */
  clear(): void {
    while (this.urgent.shift() || this.normal.shift());
    this.byKey.clear();
  }

  private expire(lane: Lane<T>, now: number): void {
    for (let e = lane.oldest(); e && now - e.arrivedAt > this.deadlineMs; e = lane.oldest()) {
      lane.shift();
      this.forget(e);
      this.drop(e, 'stale');
    }
  }

  private forget(e: Entry<T>): void {
    if (e.key !== null && this.byKey.get(e.key)?.entry === e) this.byKey.delete(e.key);
  }

  private drop(e: Entry<T>, reason: QueueDropReason): void {
    this.dropped[reason]++;
    this.onDrop(e.item, reason);
  }
}
