import * as http from 'node:http';

/** One parsed Server-Sent Events message. */
export interface SseMessage {
  id?: string;
  event: string;
  data: any;
}

/**
 * A minimal EventSource-compatible reader over node:http (parses `id`, `event`, `data`, comments), which can also
 * stop reading (`pause`) to play a slow consumer. Tests wait on its messages with deadlines, never sleeps.
 */
export class SseClient {
  readonly messages: SseMessage[] = [];
  comments = 0;
  ended = false;
  private buf = '';
  private waiters: (() => void)[] = [];

  private constructor(
    readonly status: number,
    private readonly req: http.ClientRequest,
    private readonly res: http.IncomingMessage,
  ) {}

  static open(url: string, headers: Record<string, string> = {}, opts: { paused?: boolean } = {}): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      const req = http.get(url, { headers: { Accept: 'text/event-stream', ...headers } }, (res) => {
        const c = new SseClient(res.statusCode ?? 0, req, res);
        res.setEncoding('utf8');
        if (opts.paused) res.pause();
        res.on('data', (chunk: string) => c.feed(chunk));
        res.on('end', () => c.finish());
        res.on('close', () => c.finish());
        res.on('error', () => c.finish());
        resolve(c);
      });
      req.on('error', reject);
    });
  }

  /** The response body so far, for a non-200 answer. */
  get rawBody(): string {
    return this.buf;
  }

  get events(): SseMessage[] {
    return this.messages;
  }

  ofType(type: string): SseMessage[] {
    return this.messages.filter((m) => m.event === type);
  }

  pause(): void {
    this.res.pause();
  }

  resume(): void {
    this.res.resume();
  }

  close(): void {
    this.req.destroy();
  }

  /** Resolves once `pred` holds; rejects after `timeoutMs` naming `what`. */
  waitFor(pred: (c: SseClient) => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    if (pred(this)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!pred(this)) return false;
        clearTimeout(timer);
        resolve();
        return true;
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(
          new Error(
            `timed out waiting for ${what}; got ${this.messages.length} messages: ${this.messages
              .slice(-3)
              .map((m) => m.event)
              .join(', ')}`,
          ),
        );
      }, timeoutMs);
      const waiter = () => {
        if (check()) this.waiters = this.waiters.filter((w) => w !== waiter);
      };
      this.waiters.push(waiter);
    });
  }

  private feed(chunk: string): void {
    this.buf += chunk;
    if (this.status !== 200) return this.notify();
    let start = 0;
    let i: number;
    while ((i = this.buf.indexOf('\n\n', start)) >= 0) {
      this.parseBlock(this.buf.slice(start, i));
      start = i + 2;
    }
    this.buf = this.buf.slice(start);
    this.notify();
  }

  private parseBlock(block: string): void {
    const msg: { id?: string; event: string; data?: string } = { event: 'message' };
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) {
        this.comments++;
        continue;
      }
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'id') msg.id = value;
      else if (field === 'event') msg.event = value;
      else if (field === 'data') msg.data = msg.data === undefined ? value : `${msg.data}\n${value}`;
    }
    if (msg.data !== undefined) this.messages.push({ id: msg.id, event: msg.event, data: JSON.parse(msg.data) });
  }

  private finish(): void {
    this.ended = true;
    this.notify();
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }
}
