import { KeyedLock, LockTimeoutError, Semaphore } from './keyed-lock';

/** A promise whose resolution the test controls. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('KeyedLock', () => {
  it('serialises exclusive holders of one key in FIFO order', async () => {
    const lock = new KeyedLock();
    const order: string[] = [];
    const gate = deferred();
    const a = lock.run('k', async () => {
      order.push('a-start');
      await gate.promise;
      order.push('a-end');
    });
    const b = lock.run('k', () => void order.push('b'));
    const c = lock.run('k', () => void order.push('c'));
    await tick();
    expect(order).toEqual(['a-start']);
    gate.resolve();
    await Promise.all([a, b, c]);
    expect(order).toEqual(['a-start', 'a-end', 'b', 'c']);
    expect(lock.size).toBe(0);
  });

  it('runs different keys concurrently', async () => {
    const lock = new KeyedLock();
    const gate = deferred();
    const started: string[] = [];
    const a = lock.run('a', async () => {
      started.push('a');
      await gate.promise;
    });
    const b = lock.run('b', () => void started.push('b'));
    await b;
    expect(started).toEqual(['a', 'b']);
    gate.resolve();
    await a;
  });

  it('lets shared holders overlap and makes an exclusive holder wait for them (and block later readers)', async () => {
    const lock = new KeyedLock();
    const g1 = deferred();
    const g2 = deferred();
    const events: string[] = [];
    const r1 = lock.run(
      'k',
      async () => {
        events.push('r1');
        await g1.promise;
        events.push('r1-end');
      },
      { shared: true },
    );
    const r2 = lock.run(
      'k',
      async () => {
        events.push('r2');
        await g2.promise;
        events.push('r2-end');
      },
      { shared: true },
    );
    const w = lock.run('k', () => void events.push('w'));
    const r3 = lock.run('k', () => void events.push('r3'), { shared: true });
    await tick();
    expect(events).toEqual(['r1', 'r2']);
    g1.resolve();
    await r1;
    await tick();
    expect(events).toEqual(['r1', 'r2', 'r1-end']);
    g2.resolve();
    await Promise.all([r2, w, r3]);
    expect(events).toEqual(['r1', 'r2', 'r1-end', 'r2-end', 'w', 'r3']);
    expect(lock.isLocked('k')).toBe(false);
  });

  it('releases the lock when the body throws', async () => {
    const lock = new KeyedLock();
    await expect(lock.run('k', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(lock.run('k', () => 42)).resolves.toBe(42);
    expect(lock.size).toBe(0);
  });

  it('handles 1,000 concurrent keys and drops every entry afterwards', async () => {
    const lock = new KeyedLock();
    let concurrent = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        lock.run(`k${i % 500}`, async () => {
          concurrent += 1;
          peak = Math.max(peak, concurrent);
          await tick();
          concurrent -= 1;
        }),
      ),
    );
    expect(peak).toBe(500);
    expect(lock.size).toBe(0);
  });

  it('with timeoutMs 0 refuses at once when the key is busy, and takes a free key', async () => {
    const lock = new KeyedLock();
    const gate = deferred();
    const holder = lock.run('k', () => gate.promise);
    let ran = false;
    await expect(lock.run('k', () => void (ran = true), { timeoutMs: 0 })).rejects.toBeInstanceOf(LockTimeoutError);
    expect(ran).toBe(false);
    await expect(lock.run('other', () => 7, { timeoutMs: 0 })).resolves.toBe(7);
    gate.resolve();
    await holder;
    await expect(lock.run('k', () => 8, { timeoutMs: 0 })).resolves.toBe(8);
    expect(lock.size).toBe(0);
  });

  it('gives up a wait after timeoutMs, leaves the queue intact and lets shared waiters behind it in', async () => {
    const lock = new KeyedLock();
    const gate = deferred();
    const reader = lock.run('k', () => gate.promise, { shared: true });
    // An exclusive waiter blocks the shared one queued after it; when it gives up, the reader behind joins at once.
    const writer = lock.run('k', () => 'w', { timeoutMs: 20 });
    const events: string[] = [];
    const late = lock.run('k', () => void events.push('late reader'), { shared: true });
    await expect(writer).rejects.toMatchObject({ name: 'LockTimeoutError', key: 'k', timeoutMs: 20 });
    await late;
    expect(events).toEqual(['late reader']);
    gate.resolve();
    await reader;
    expect(lock.size).toBe(0);
  });

  it('a waiter granted before its timeout runs normally', async () => {
    const lock = new KeyedLock();
    const gate = deferred();
    const holder = lock.run('k', () => gate.promise);
    const waiter = lock.run('k', () => 'ok', { timeoutMs: 60_000 });
    gate.resolve();
    await holder;
    await expect(waiter).resolves.toBe('ok');
    expect(lock.size).toBe(0);
  });
});

describe('Semaphore', () => {
  it('bounds concurrency and preserves FIFO order', async () => {
    const sem = new Semaphore(2);
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        sem.run(async () => {
          running += 1;
          peak = Math.max(peak, running);
          order.push(i);
          await tick();
          running -= 1;
        }),
      ),
    );
    expect(peak).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
    expect(sem.running).toBe(0);
  });

  it('rejects a non-positive limit', () => {
    expect(() => new Semaphore(0)).toThrow(RangeError);
  });
});
