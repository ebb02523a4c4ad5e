import { api, call } from '../api/client';
import { EVENT_TYPES, type DlsEvent, type EventBodies, type TypedEvent } from './types';

export type StreamStatus = 'connecting' | 'open' | 'reconnecting' | 'closed';
type Handler = (e: DlsEvent) => void;

/**
 * The one live stream of the dashboard: a single-use ticket (POST /events/ticket), then an EventSource on
 * /api/v1/events?ticket=…; on any error a new ticket and a reconnect with `lastEventId`, so nothing in the server's
 * window is missed. A `reset` (the id fell out of the window) or `dropped` (we fell behind) tells the pages to
 * reload their snapshots. Handlers run synchronously per message; pages batch their own rendering.
 */
export class EventStream {
  private source: EventSource | null = null;
  private handlers = new Map<string, Set<Handler>>();
  private statusListeners = new Set<(s: StreamStatus) => void>();
  private retryMs = 500;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = true;
  lastEventId: string | null = null;
  status: StreamStatus = 'closed';
  /** Messages received since start (for the status badge and tests). */
  received = 0;

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.source?.close();
    this.source = null;
    this.setStatus('closed');
  }

  /** Subscribe to one type, a list of types, or '*' (everything). Returns the unsubscribe function. */
  on<T extends keyof EventBodies>(type: T | T[] | '*', fn: (e: TypedEvent<T>) => void): () => void {
    const types = type === '*' ? ['*'] : Array.isArray(type) ? type : [type];
    for (const t of types) {
      let set = this.handlers.get(t);
      if (!set) this.handlers.set(t, (set = new Set()));
      set.add(fn as Handler);
    }
    return () => types.forEach((t) => this.handlers.get(t)?.delete(fn as Handler));
  }

  onStatus(fn: (s: StreamStatus) => void): () => void {
    this.statusListeners.add(fn);
    return () => this.statusListeners.delete(fn);
  }

  /** Deliver an event as if it came from the server (used by the storm simulation of the browser tests). */
  dispatch(e: DlsEvent): void {
    this.received++;
    for (const t of [e.type, '*']) for (const fn of this.handlers.get(t) ?? []) fn(e);
  }

  private setStatus(s: StreamStatus): void {
    this.status = s;
    for (const fn of this.statusListeners) fn(s);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    this.setStatus(this.lastEventId ? 'reconnecting' : 'connecting');
    let ticket: string;
    try {
      ticket = (await call(api.POST('/api/v1/events/ticket'))).ticket;
    } catch {
      return this.retry();
    }
    if (this.stopped) return;
    const qs = new URLSearchParams({ ticket });
    if (this.lastEventId) qs.set('lastEventId', this.lastEventId);
    const es = new EventSource(`/api/v1/events?${qs.toString()}`);
    this.source = es;
    es.onopen = () => {
      this.retryMs = 500;
      this.setStatus('open');
    };
    const onMessage = (m: MessageEvent<string>) => {
      let e: DlsEvent;
      try {
        e = JSON.parse(m.data) as DlsEvent;
      } catch {
        return;
      }
      if (m.lastEventId) this.lastEventId = m.lastEventId;
      this.dispatch(e);
      if (e.type === 'dropped') {
        es.close();
        this.retry();
      }
    };
    for (const t of EVENT_TYPES) es.addEventListener(t, onMessage);
    es.onmessage = onMessage;
    // EventSource would retry with the same (now used) ticket: close and reconnect with a new one.
    es.onerror = () => {
      es.close();
      if (this.source === es) this.retry();
    };
  }

  private retry(): void {
    if (this.stopped) return;
    this.source = null;
    this.setStatus('reconnecting');
    this.timer = setTimeout(() => void this.connect(), this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, 10_000);
  }
}

export const events = new EventStream();

// The browser tests' hook for simulating a boot storm (`window.__dlsEvents.dispatch(e)`).
(window as unknown as { __dlsEvents?: EventStream }).__dlsEvents = events;
