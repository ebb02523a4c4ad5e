import { EventEmitter } from 'node:events';
import { Socket, connect } from 'node:net';
import { StorageError, StorageErrorCode } from './storage.errors';

/** One QMP event (`{"event": ..., "data": ...}`). */
export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  command: string;
  timer: NodeJS.Timeout;
}

/**
 * A QMP (QEMU Machine Protocol, docs/interop/qmp-spec) client over a unix socket: JSON objects, one per line. After the
 * greeting, `qmp_capabilities` leaves negotiation mode; each command carries an `id` that its reply echoes, so replies
 * and asynchronous events (`{"event": ...}`) are told apart and commands may be pipelined. Emits `'event'` with a
 * {@link QmpEvent} and `'close'` once when the connection ends (for qemu-storage-daemon: the daemon is gone).
 */
export class QmpClient extends EventEmitter {
  private socket?: Socket;
  private buffer = '';
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  private closed = false;

  private constructor(private readonly timeoutMs: number) {
    super();
    // One pair of listeners per waitForEvent in flight (a detach of every disk at once is many), each bounded by its timeout.
    this.setMaxListeners(0);
  }

  /** Connects, reads the greeting and negotiates capabilities; rejects (DAEMON_DOWN) within `timeoutMs`. */
  static async connect(socketPath: string, timeoutMs = 5000): Promise<QmpClient> {
    const client = new QmpClient(timeoutMs);
    await client.open(socketPath);
    return client;
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /**
   * Runs `command`; resolves with its `return`, rejects with COMMAND_FAILED naming QMP's error `desc`. Commands go
   * one at a time (the daemon runs them one at a time anyway), so the timeout bounds this command, not the queue
   * before it: 1,000 disks provisioned at once must not time out the last ones.
   */
  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    const run = this.queue.then(() => this.send<T>(command, args));
    this.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private queue: Promise<void> = Promise.resolve();

  private send<T>(command: string, args?: Record<string, unknown>): Promise<T> {
    if (this.closed || !this.socket) {
      return Promise.reject(new StorageError(StorageErrorCode.DAEMON_DOWN, `qemu-storage-daemon is not connected (${command})`));
    }
    const id = `dls-${this.nextId++}`;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new StorageError(StorageErrorCode.TIMEOUT, `QMP ${command} got no answer in ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      timer.unref();
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, command, timer });
      this.socket!.write(`${JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}), id })}\n`);
    });
  }

  /** Resolves with the first event named `event` whose data satisfies `match`, or rejects after `timeoutMs`. */
  waitForEvent(event: string, match: (data: Record<string, unknown>) => boolean, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const onEvent = (e: QmpEvent) => {
        if (e.event === event && match(e.data ?? {})) done();
      };
      const onClose = () => done(new StorageError(StorageErrorCode.DAEMON_DOWN, `qemu-storage-daemon went away waiting for ${event}`));
      const timer = setTimeout(() => done(new StorageError(StorageErrorCode.TIMEOUT, `no ${event} in ${timeoutMs} ms`)), timeoutMs);
      timer.unref();
      const done = (err?: Error) => {
        clearTimeout(timer);
        this.off('event', onEvent);
        this.off('close', onClose);
        if (err) reject(err);
        else resolve();
      };
      this.on('event', onEvent);
      this.once('close', onClose);
    });
  }

  close(): void {
    this.socket?.destroy();
  }

  private open(socketPath: string): Promise<void> {
    return new Promise((resolve, reject) => {
      let greeted = false;
      const fail = (err: Error) => {
        clearTimeout(timer);
        this.socket?.destroy();
        reject(new StorageError(StorageErrorCode.DAEMON_DOWN, `cannot talk QMP on ${socketPath}: ${err.message}`));
      };
      const timer = setTimeout(() => fail(new Error('no greeting')), this.timeoutMs);
      timer.unref();
      const socket = connect(socketPath);
      this.socket = socket;
      socket.setEncoding('utf8');
      socket.once('error', (err) => {
        if (!greeted) fail(err);
      });
      socket.on('error', () => undefined); // after the greeting, 'close' carries the news
      socket.on('close', () => this.onClose());
      socket.on('data', (chunk: string) => {
        this.buffer += chunk;
        let nl: number;
        while ((nl = this.buffer.indexOf('\n')) >= 0) {
          const line = this.buffer.slice(0, nl).trim();
          this.buffer = this.buffer.slice(nl + 1);
          if (!line) continue;
          let msg: Record<string, unknown>;
          try {
            msg = JSON.parse(line) as Record<string, unknown>;
          } catch {
            continue; // not QMP; ignore
          }
          if (!greeted && 'QMP' in msg) {
            greeted = true;
            this.execute('qmp_capabilities').then(() => {
              clearTimeout(timer);
              resolve();
            }, fail);
            continue;
          }
          this.onMessage(msg);
        }
      });
    });
  }

  private onMessage(msg: Record<string, unknown>): void {
    if (typeof msg['event'] === 'string') {
      this.emit('event', { event: msg['event'], data: msg['data'] as Record<string, unknown> | undefined });
      return;
    }
    const id = typeof msg['id'] === 'string' ? msg['id'] : undefined;
    const p = id !== undefined ? this.pending.get(id) : undefined;
    if (!p || id === undefined) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if ('error' in msg) {
      const err = msg['error'] as { class?: string; desc?: string };
      p.reject(
        new StorageError(StorageErrorCode.COMMAND_FAILED, `QMP ${p.command}: ${err.desc ?? 'error'}`, {
          qmpClass: err.class,
          qmpDesc: err.desc,
        }),
      );
    } else p.resolve(msg['return']);
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new StorageError(StorageErrorCode.DAEMON_DOWN, `qemu-storage-daemon closed the connection during ${p.command}`));
    }
    this.pending.clear();
    this.emit('close');
  }
}
