/**
 * Between an interface's socket and the DHCP handler: every datagram read is decoded and queued in a
 * {@link RequestQueue} (bounded, deadline, urgent lane, newest first), and a pump hands queued requests to the
 * handler on the next turn of the event loop, at most `maxInFlight` at a time. Deferring the work lets the socket's
 * read loop drain the kernel buffer into our queue first, so it is our policy — not the kernel's drop-tail FIFO —
 * that decides what is served under overload. Framework-free.
 */
import { DhcpMessageType } from '@protocols/dhcp';
import { QueueDropReason, RequestQueue } from './request-queue';

/** Requests handed to the handler per turn of the event loop, so reading the socket is never starved. */
const BURST = 64;

/** Message types that complete an exchange already begun: served before new DISCOVERs. */
const URGENT = new Set<number>([DhcpMessageType.REQUEST, DhcpMessageType.DECLINE, DhcpMessageType.RELEASE]);

export interface DhcpIntakeOptions<J> {
  capacity: number;
  deadlineMs: number;
  /** Requests being handled at once at most (each waits for memory, a registration or a group commit). */
  maxInFlight?: number;
  serve: (job: J, arrivedAt: number) => Promise<void>;
  onDrop: (job: J, reason: QueueDropReason) => void;
  now?: () => number;
}

/** See the file comment. */
export class DhcpIntake<J> {
  private readonly queue: RequestQueue<J>;
  private readonly maxInFlight: number;
  private readonly serveFn: (job: J, arrivedAt: number) => Promise<void>;
  private readonly now: () => number;
  private inFlight = 0;
  private scheduled: NodeJS.Immediate | null = null;
  private closed = false;
  private readonly running = new Set<Promise<void>>();

  constructor(options: DhcpIntakeOptions<J>) {
    this.queue = new RequestQueue<J>({ capacity: options.capacity, deadlineMs: options.deadlineMs, onDrop: options.onDrop, now: options.now });
    this.maxInFlight = options.maxInFlight ?? 128;
    this.serveFn = options.serve;
    this.now = options.now ?? Date.now;
  }

  /** Requests waiting. */
  get depth(): number {
    return this.queue.depth;
  }

  /** Requests being handled. */
  get active(): number {
    return this.inFlight;
  }

  /**
   * Queues one request of `mac` (null: not keyed) with transaction id `xid` and DHCP message type `type` (null:
   * BOOTP). A retransmission (same MAC, type and xid) replaces its waiting copy.
   */
  push(job: J, mac: string | null, xid: number, type: number | null): void {
    if (this.closed) return;
    const key = mac === null ? null : `${mac} ${xid} ${type ?? 0}`;
    this.queue.push(job, { key, urgent: type !== null && URGENT.has(type), arrivedAt: this.now() });
    this.schedule();
  }

  /** Stops taking requests, forgets the waiting ones and resolves when those being handled are done (or `capMs`). */
  async close(capMs: number): Promise<void> {
    this.closed = true;
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = null;
    this.queue.clear();
    if (this.running.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const cap = new Promise<void>((resolve) => (timer = setTimeout(resolve, capMs)));
    await Promise.race([Promise.allSettled([...this.running]), cap]);
    clearTimeout(timer);
  }

  private schedule(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = setImmediate(() => {
      this.scheduled = null;
      this.pump();
    });
  }

  private pump(): void {
    for (let n = 0; n < BURST && this.inFlight < this.maxInFlight; n++) {
      const next = this.queue.take();
      if (!next) return;
      this.inFlight++;
      const work = this.serveFn(next.item, next.arrivedAt).finally(() => {
        this.inFlight--;
        this.running.delete(work);
        if (this.queue.depth > 0) this.schedule();
      });
      this.running.add(work);
    }
    if (this.queue.depth > 0 && this.inFlight < this.maxInFlight) this.schedule();
  }
}
