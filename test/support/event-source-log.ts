import { EventSource } from 'eventsource';
import { CONTROL_EVENT_TYPES, EVENT_TYPES } from '../../src/modules/events/event-types';

/** One message as an EventSource listener receives it, its `data` parsed (an EventMessageDto). */
export interface ReceivedEvent {
  /** The SSE `event:` field (the listener it was dispatched to). */
  type: string;
  /** `MessageEvent.lastEventId`: the stream position after this message. */
  lastEventId: string;
  data: { id?: string; type: string; time: string; node?: string; body: any };
}

/**
 * A real EventSource (the `eventsource` package: the WHATWG implementation for Node) on DLS's event stream,
 * listening to every type DLS sends, with what it received and the errors it reported. Tests wait on it with
 * {@link waitFor} (woken by each message, bounded by a deadline), never with sleeps.
 */
export class EventSourceLog {
  readonly source: EventSource;
  readonly events: ReceivedEvent[] = [];
  readonly errors: { code?: number; message?: string; readyState: number }[] = [];
  private readonly waiters = new Set<() => void>();
  /** Resolves when the stream is open (a 200 with `text/event-stream`); rejects when the first connect fails. */
  readonly opened: Promise<void>;

  constructor(url: string) {
    this.source = new EventSource(url);
    this.opened = new Promise((resolve, reject) => {
      this.source.addEventListener('open', () => resolve(), { once: true });
      this.source.addEventListener('error', (e) => reject(new Error(`EventSource did not open: ${describe(e)}`)), { once: true });
    });
    this.opened.catch(() => undefined); // observed through waitFor/errors too
    for (const type of [...EVENT_TYPES, ...CONTROL_EVENT_TYPES]) {
      this.source.addEventListener(type, (e: MessageEvent) => {
        this.events.push({ type, lastEventId: e.lastEventId, data: JSON.parse(String(e.data)) as ReceivedEvent['data'] });
        this.wake();
      });
    }
    this.source.addEventListener('error', (e) => {
      const err = e as Event & { code?: number; message?: string };
      this.errors.push({ code: err.code, message: err.message, readyState: this.source.readyState });
      this.wake();
    });
  }

  ofType(type: string): ReceivedEvent[] {
    return this.events.filter((e) => e.type === type);
  }

  /** Resolves with `pred`'s first truthy value; rejects after `timeoutMs` naming `what` and the last events seen. */
  waitFor<T>(what: string, pred: (log: this) => T | undefined | null | false, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const v = pred(this);
        if (!v) return false;
        done();
        resolve(v);
        return true;
      };
      const timer = setTimeout(() => {
        done();
        const last = this.events.slice(-5).map((e) => `${e.type}#${e.lastEventId}`);
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}; ${this.events.length} events (last: ${last.join(', ')}), errors: ${JSON.stringify(this.errors)}`,
          ),
        );
      }, timeoutMs);
      const waiter = () => void check();
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      this.waiters.add(waiter);
      check();
    });
  }

  close(): void {
    this.source.close();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}

function describe(e: Event): string {
  const err = e as Event & { code?: number; message?: string };
  return [err.code, err.message].filter((x) => x !== undefined).join(' ') || e.type;
}
