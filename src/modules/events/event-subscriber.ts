import { ROLE_RANK } from '@common/auth/auth.decorators';
import type { Role } from '@common/auth/role';
import type { ControlEventType, StoredEvent } from './event-types';

/** Where one subscriber's SSE text goes (an HTTP response; a fake in unit specs). */
export interface SseSink {
  /** Writes a chunk; false means the transport's buffer is full: write again only after `onDrain`'s callback. */
  write(chunk: string): boolean;
  /** Calls `cb` once when the transport can take more. */
  onDrain(cb: () => void): void;
  /** Ends the stream (after what was written has gone out, or soon after). */
  end(): void;
}

/** The SSE message of a stored event: `id`, `event` (the type), `data` (JSON envelope with time and body). */
export function formatEvent(e: StoredEvent): string {
  const data = JSON.stringify({ id: e.id, type: e.type, time: e.at.toISOString(), node: e.node, body: e.body });
  return `id: ${e.id}\nevent: ${e.type}\ndata: ${data}\n\n`;
}

/** A control message (`reset`, `dropped`) for one subscriber; carries no id, so it does not move Last-Event-ID. */
export function formatControl(type: ControlEventType, body: Record<string, unknown>): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, time: new Date().toISOString(), body })}\n\n`;
}

export const HEARTBEAT = ': heartbeat\n\n';

interface Entry {
  id: string;
  rank: number;
  text: string;
}

/**
 * The live events of one process and their subscribers. Delivered events go into one ring of `capacity` formatted
 * messages shared by every subscriber (formatted once, whatever the number of subscribers); each subscriber is a
 * cursor into it — its queue is the part of the ring it has not written yet, so it is bounded by `capacity` and
 * costs no memory of its own. A subscriber the ring laps (more than `capacity` events behind) is dropped.
 */
export class EventHub {
  private readonly ring: (Entry | undefined)[];
  private readonly subs = new Set<EventSubscriber>();
  /** Absolute index of the next event to be delivered. */
  seq = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
    this.ring = new Array<Entry | undefined>(capacity);
  }

  get size(): number {
    return this.subs.size;
  }

  /** A new subscriber for `role`, positioned at the next live event. */
  subscribe(sink: SseSink, role: Role, onClose: (s: EventSubscriber) => void = () => undefined): EventSubscriber {
    const s = new EventSubscriber(this, sink, role, (x) => {
      this.subs.delete(x);
      onClose(x);
    });
    this.subs.add(s);
    return s;
  }

  deliver(events: readonly StoredEvent[]): void {
    for (const e of events) {
      this.ring[this.seq % this.capacity] = { id: e.id, rank: ROLE_RANK[e.minRole] ?? Number.POSITIVE_INFINITY, text: formatEvent(e) };
      this.seq++;
    }
    for (const s of this.subs) s.pump();
  }

  /** The entry at absolute index `i`, while the ring still holds it. */
  entry(i: number): Entry | undefined {
    return i < this.seq && i >= this.seq - this.capacity ? this.ring[i % this.capacity] : undefined;
  }

  heartbeat(): void {
    for (const s of this.subs) s.heartbeat();
  }

  closeAll(): void {
    for (const s of [...this.subs]) s.close();
  }
}

/**
 * One stream subscriber: a cursor into the hub's ring. Events its role may see are written while the transport
 * takes them; when it pushes back, the subscriber waits for `drain` and the ring keeps the events — until the
 * subscriber is more than `capacity` events behind: then it gets a final `dropped` event and the stream ends (the
 * client may reconnect with Last-Event-ID and resume from the table).
 *
 * While replaying (resuming from Last-Event-ID) live events stay in the ring; afterwards they are written, skipping
 * ids the replay already sent.
 */
export class EventSubscriber {
  private next: number;
  private waiting = false;
  private replayed: Set<string> | null = null;
  private readonly rank: number;
  closed = false;
  /** Why it was dropped, when it was. */
  droppedReason: string | null = null;

  constructor(
    private readonly hub: EventHub,
    private readonly sink: SseSink,
    readonly role: Role,
    private readonly onClose: (s: EventSubscriber) => void,
  ) {
    this.next = hub.seq;
    this.rank = ROLE_RANK[role];
  }

  /** Whether this subscriber's role may see `e`. */
  canSee(e: Pick<StoredEvent, 'minRole'>): boolean {
    return this.rank >= (ROLE_RANK[e.minRole] ?? Number.POSITIVE_INFINITY);
  }

  /** Live events delivered but not yet written to this subscriber. */
  get lag(): number {
    return this.hub.seq - this.next;
  }

  /** Whether the transport is keeping up (nothing pending, no drain awaited). */
  get idle(): boolean {
    return !this.waiting && this.lag === 0 && this.replayed === null;
  }

  /** Starts a replay: live events wait in the ring until {@link endReplay}. */
  beginReplay(): void {
    this.replayed = new Set();
  }

  /** Writes one replayed event; resolves when the transport can take the next (back-pressure without a queue). */
  async replay(e: StoredEvent): Promise<void> {
    if (this.closed || !this.canSee(e)) return;
    this.replayed?.add(e.id);
    if (!this.sink.write(formatEvent(e))) await new Promise<void>((resolve) => this.sink.onDrain(resolve));
  }

  /** Ends the replay: live events that arrived meanwhile and were not replayed go out. */
  endReplay(): void {
    const replayed = this.replayed;
    this.replayed = null;
    this.pump(replayed ?? undefined);
  }

  /** A control message (e.g. `reset`). */
  control(type: ControlEventType, body: Record<string, unknown>): void {
    if (!this.closed) this.sink.write(formatControl(type, body));
  }

  /** A comment line that keeps proxies from timing the stream out; skipped while the transport is backed up. */
  heartbeat(): void {
    if (!this.closed && !this.waiting) this.sink.write(HEARTBEAT);
  }

  /** Writes what the ring holds for it, until the transport pushes back; drops it once the ring has lapped it. */
  pump(skip?: ReadonlySet<string>): void {
    if (this.closed) return;
    if (this.lag > this.hub.capacity) return this.drop(`slow consumer: more than ${this.hub.capacity} events behind`);
    if (this.waiting || this.replayed) return;
    while (this.next < this.hub.seq) {
      const e = this.hub.entry(this.next++)!;
      if (e.rank > this.rank || skip?.has(e.id)) continue;
      if (!this.sink.write(e.text)) {
        this.waiting = true;
        this.sink.onDrain(() => {
          this.waiting = false;
          this.pump();
        });
        return;
      }
    }
  }

  /** Ends the stream with a final `dropped` event. */
  drop(reason: string): void {
    if (this.closed) return;
    this.droppedReason = reason;
    this.sink.write(formatControl('dropped', { reason }));
    this.close();
  }

  /** Ends the stream (server shutdown) or forgets it (client went away). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sink.end();
    this.onClose(this);
  }
}
