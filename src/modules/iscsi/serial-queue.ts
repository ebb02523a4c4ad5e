/**
 * A minimal in-process FIFO mutex: tasks run one at a time in submission order.
 *
 * tgtd's tid space and account namespace are global, so mutating tgtadm calls (and the exporter's multi-step
 * convergence) must not interleave. A failed task does not block the ones queued after it.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;

  /** Number of tasks queued or running. */
  get size(): number {
    return this.pending;
  }

  /** Runs `task` after every previously submitted task has settled; resolves/rejects with its result. */
  run<T>(task: () => Promise<T>): Promise<T> {
    this.pending++;
    const result = this.tail.then(task);
    this.tail = result.then(
      () => this.pending--,
      () => this.pending--,
    );
    return result;
  }
}
