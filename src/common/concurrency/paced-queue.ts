/**
 * {@link PacedQueue}: runs short jobs one at a time, in the order they were queued, at least `gapMs` apart (from the
 * end of one to the start of the next). Used to pace Wake-on-LAN: every magic packet DLS sends goes through one
 * queue, so a room of 200 clients (or several rooms woken at once) leaves as a steady trickle instead of one burst
 * that a switch's broadcast storm control would drop.
 */

/** The clock and timer a queue waits with; specs pass fakes. */
export interface PacedQueueClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const realClock: PacedQueueClock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export class PacedQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private lastStart = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly gapMs: number,
    private readonly clock: PacedQueueClock = realClock,
  ) {
    if (!Number.isFinite(gapMs) || gapMs < 0) throw new RangeError(`gapMs must be a finite number >= 0, got ${gapMs}`);
  }

  /**
   * Queues `job`; it runs once every job queued before it has run and `gapMs` have passed since the last one
   * finished. Resolves or rejects with the job's own outcome; a failing job does not stop the queue.
   */
  run<T>(job: () => T | Promise<T>): Promise<T> {
    const result = this.tail.then(async () => {
      // A timer may fire up to a millisecond early by this clock (libuv counts whole ms from a cached loop time):
      // what is still missing of the gap is waited again, so the gap is never shorter than asked.
      for (let wait = this.lastStart + this.gapMs - this.clock.now(); wait > 0; wait = this.lastStart + this.gapMs - this.clock.now()) {
        await this.clock.sleep(wait);
      }
      try {
        return await job();
      } finally {
        // Counted from the job's end (a send: microseconds): however late this job ran, the next one leaves at
        // least gapMs after it, on the wire too.
        this.lastStart = this.clock.now();
      }
    });
    this.tail = result.catch(() => undefined);
    return result;
  }
}
