/**
 * In-process async locks.
 *
 * {@link KeyedLock} serialises work per key (a client id, an image id) with FIFO fairness and an optional shared
 * (reader) mode, so e.g. many client disks can be provisioned from one image version concurrently while destroying
 * that version waits for them and blocks new ones. {@link Semaphore} bounds concurrency (full-file copies).
 * Entries for idle keys are dropped, so memory stays proportional to the work in flight.
 */

interface Waiter {
  shared: boolean;
  grant: () => void;
}

interface KeyState {
  holders: number;
  exclusive: boolean;
  queue: Waiter[];
}

export interface LockOptions {
  /** Shared holders run together; an exclusive holder runs alone. Default: exclusive. */
  shared?: boolean;
}

export class KeyedLock {
  private readonly states = new Map<string, KeyState>();

  /** Runs `fn` while holding the lock for `key`; the lock is released even if `fn` throws. */
  async run<T>(key: string, fn: () => Promise<T> | T, options: LockOptions = {}): Promise<T> {
    await this.acquire(key, options.shared === true);
    try {
      return await fn();
    } finally {
      this.release(key);
    }
  }

  /** True while someone holds or waits for `key`. */
  isLocked(key: string): boolean {
    return this.states.has(key);
  }

  /** Number of keys currently held or awaited (for tests and metrics). */
  get size(): number {
    return this.states.size;
  }

  private acquire(key: string, shared: boolean): Promise<void> {
    let state = this.states.get(key);
    if (!state) {
      state = { holders: 0, exclusive: false, queue: [] };
      this.states.set(key, state);
    }
    if (state.queue.length === 0 && (state.holders === 0 || (shared && !state.exclusive))) {
      state.holders += 1;
      state.exclusive = !shared;
      return Promise.resolve();
    }
    const s = state;
    return new Promise<void>((resolve) => s.queue.push({ shared, grant: resolve }));
  }

  private release(key: string): void {
    const state = this.states.get(key);
    if (!state) return;
    state.holders -= 1;
    if (state.holders === 0) state.exclusive = false;
    while (state.queue.length > 0) {
      const head = state.queue[0];
      const free = state.holders === 0;
      if (!free && !(head.shared && !state.exclusive)) break;
      state.queue.shift();
      state.holders += 1;
      state.exclusive = !head.shared;
      head.grant();
      if (state.exclusive) break;
    }
    if (state.holders === 0 && state.queue.length === 0) this.states.delete(key);
  }
}

/** Counting semaphore: at most `limit` `run()` bodies execute at once, the rest wait in FIFO order. */
export class Semaphore {
  private active = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError('Semaphore limit must be a positive integer');
  }

  async run<T>(fn: () => Promise<T> | T): Promise<T> {
    if (this.active >= this.limit) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    } else {
      this.active += 1;
    }
    try {
      return await fn();
    } finally {
      const next = this.waiters.shift();
      if (next) next();
      else this.active -= 1;
    }
  }

  /** Bodies currently running. */
  get running(): number {
    return this.active;
  }
}
