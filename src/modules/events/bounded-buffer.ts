/**
 * A FIFO of at most `capacity` items (a ring): pushing onto a full buffer drops the oldest item and counts it.
 * What the hot paths publish into, so a stalled database can never grow memory.
 */
export class BoundedBuffer<T> {
  private readonly items: (T | undefined)[];
  private head = 0;
  private count = 0;
  /** Items dropped because the buffer was full, since construction. */
  dropped = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
    this.items = new Array<T | undefined>(capacity);
  }

  get size(): number {
    return this.count;
  }

  /** Appends; returns false when the oldest item had to be dropped to make room. */
  push(item: T): boolean {
    if (this.count === this.capacity) {
      this.items[this.head] = item;
      this.head = (this.head + 1) % this.capacity;
      this.dropped++;
      return false;
    }
    this.items[(this.head + this.count) % this.capacity] = item;
    this.count++;
    return true;
  }

  /** Removes and returns up to `n` oldest items. */
  take(n: number): T[] {
    const k = Math.min(n, this.count);
    const out: T[] = new Array<T>(k);
    for (let i = 0; i < k; i++) {
      out[i] = this.items[this.head] as T;
      this.items[this.head] = undefined;
      this.head = (this.head + 1) % this.capacity;
    }
    this.count -= k;
    return out;
  }
}
