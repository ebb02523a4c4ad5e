/** Settings of a {@link GroupCommit}. */
export interface GroupCommitOptions<T, R> {
  /**
   * Writes one batch durably and returns one result per item, in order (e.g. one transaction with a multi-row
   * statement). A rejection fails every item of the batch.
   */
  flush: (items: readonly T[]) => Promise<R[]>;
  /** How long the first item of a batch waits for others before the batch is written. Default 2 ms. */
  windowMs?: number;
  /** A batch this large is written at once, without waiting for the window. Default 256. */
  maxBatch?: number;
  /** Items waiting (not yet in a flush) beyond which {@link GroupCommit.submit} rejects at once. Default 4096. */
  maxWaiting?: number;
}

/** Thrown by {@link GroupCommit.submit} when the waiting list is full: the caller sheds the work instead of queueing it. */
export class GroupCommitFullError extends Error {
  constructor(limit: number) {
    super(`group commit full (${limit} items waiting)`);
    this.name = 'GroupCommitFullError';
  }
}

interface Waiting<T, R> {
  item: T;
  resolve: (r: R) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit: many callers' writes become one durable write. {@link submit} queues an item and resolves with its
 * result only once the batch holding it has been flushed (committed). A batch starts with the first item and is
 * flushed `windowMs` later (or at once when it reaches `maxBatch`); one flush runs at a time, and what arrives
 * meanwhile forms the next batch — so under load batches grow by themselves and the cost per item falls, while a
 * lone item waits at most the window plus one flush.
 *
 * Framework-free; the caller owns what a flush does.
 */
export class GroupCommit<T, R> {
  private readonly flushFn: (items: readonly T[]) => Promise<R[]>;
  private readonly windowMs: number;
  private readonly maxBatch: number;
  private readonly maxWaiting: number;
  private waiting: Waiting<T, R>[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private closed = false;
  /** Counters for metrics and tests. */
  readonly stats = { batches: 0, items: 0, failedBatches: 0, largestBatch: 0 };

  constructor(options: GroupCommitOptions<T, R>) {
    this.flushFn = options.flush;
    this.windowMs = options.windowMs ?? 2;
    this.maxBatch = options.maxBatch ?? 256;
    this.maxWaiting = options.maxWaiting ?? 4096;
  }

  /** Items waiting for a batch (not counting the one being flushed). */
  get pending(): number {
    return this.waiting.length;
  }

  /** Queues `item`; resolves with its result once its batch is durable, rejects when the batch failed. */
  submit(item: T): Promise<R> {
    if (this.closed) return Promise.reject(new Error('group commit closed'));
    if (this.waiting.length >= this.maxWaiting) return Promise.reject(new GroupCommitFullError(this.maxWaiting));
    return new Promise<R>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /** Flushes what waits and stops taking items; resolves when the last batch is done. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.flushing || this.waiting.length > 0) {
      if (this.timer) {
        clearTimeout(this.timer);
        this.timer = null;
      }
      if (!this.flushing) this.startFlush();
      await this.flushing;
    }
  }

  private schedule(): void {
    if (this.flushing) return; // the running flush starts the next batch when it ends
    if (this.waiting.length >= this.maxBatch) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.startFlush();
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.flushing) this.startFlush();
    }, this.windowMs);
  }

  private startFlush(): void {
    const batch = this.waiting.splice(0, this.maxBatch);
    if (batch.length === 0) return;
    this.stats.batches++;
    this.stats.items += batch.length;
    this.stats.largestBatch = Math.max(this.stats.largestBatch, batch.length);
    const run = (async () => {
      let results: R[];
      try {
        results = await this.flushFn(batch.map((w) => w.item));
        if (results.length !== batch.length) throw new Error(`flush returned ${results.length} results for ${batch.length} items`);
      } catch (err) {
        this.stats.failedBatches++;
        for (const w of batch) w.reject(err);
        return;
      }
      batch.forEach((w, i) => w.resolve(results[i]));
    })();
    this.flushing = run.finally(() => {
      this.flushing = null;
      if (this.waiting.length > 0) {
        // What arrived during the flush already waited at least one flush: write it now, no extra window.
        if (this.timer) clearTimeout(this.timer);
        this.timer = null;
        this.startFlush();
      }
    });
  }
}
