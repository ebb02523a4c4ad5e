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

/** A lock wait ran past its `timeoutMs` (0 = the key was busy and the caller would not wait). */
export class LockTimeoutError extends Error {
  constructor(
    readonly key: string,
    readonly timeoutMs: number,
  ) {
    super(timeoutMs === 0 ? `${key} is busy` : `waited ${timeoutMs} ms for the lock on ${key}`);
    this.name = 'LockTimeoutError';
  }
}

interface KeyState {
  holders: number;
  exclusive: boolean;
  queue: Waiter[];
}

export interface LockOptions {
  /** Shared holders run together; an exclusive holder runs alone. Default: exclusive. */
  shared?: boolean;
  /**
   * Longest wait for the lock before rejecting with {@link LockTimeoutError} (0 = do not wait at all: reject at once
   * when the key is busy). Default: wait without limit.
   */
  timeoutMs?: number;
}

export class KeyedLock {
  private readonly states = new Map<string, KeyState>();

  /** Runs `fn` while holding the lock for `key`; the lock is released even if `fn` throws. */
  async run<T>(key: string, fn: () => Promise<T> | T, options: LockOptions = {}): Promise<T> {
    await this.acquire(key, options.shared === true, options.timeoutMs);
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

  private acquire(key: string, shared: boolean, timeoutMs?: number): Promise<void> {
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
    if (timeoutMs === 0) return Promise.reject(new LockTimeoutError(key, 0));
    const s = state;
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter: Waiter = {
        shared,
        grant: () => {
          if (timer) clearTimeout(timer);
          resolve();
        },
      };
      s.queue.push(waiter);
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          const i = s.queue.indexOf(waiter);
          if (i < 0) return; // granted meanwhile
          s.queue.splice(i, 1);
          this.grantWaiting(key, s); // the one that timed out may have blocked shared waiters behind it
          reject(new LockTimeoutError(key, timeoutMs));
        }, timeoutMs);
        timer.unref();
      }
    });
  }

  private release(key: string): void {
    const state = this.states.get(key);
    if (!state) return;
    state.holders -= 1;
    if (state.holders === 0) state.exclusive = false;
    this.grantWaiting(key, state);
  }

  private grantWaiting(key: string, state: KeyState): void {
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
