import { GroupCommit, GroupCommitFullError } from './group-commit';

describe('GroupCommit', () => {
  it('writes what arrives within the window as one batch and resolves each item after the flush', async () => {
    const batches: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const gc = new GroupCommit<number, number>({
      windowMs: 5,
      flush: async (items) => {
        batches.push([...items]);
        await gate;
        return items.map((i) => i * 10);
      },
    });
    const resolved: number[] = [];
    const all = [1, 2, 3].map((i) => gc.submit(i).then((r) => void resolved.push(r)));
    await new Promise((r) => setTimeout(r, 20));
    expect(batches).toEqual([[1, 2, 3]]);
    expect(resolved).toEqual([]); // not durable yet: nobody is answered
    release();
    await Promise.all(all);
    expect(resolved).toEqual([10, 20, 30]);
  });

  it('one flush at a time: what arrives during a flush is the next batch', async () => {
    const batches: number[][] = [];
    const releases: (() => void)[] = [];
    const gc = new GroupCommit<number, number>({
      windowMs: 1,
      flush: async (items) => {
        batches.push([...items]);
        await new Promise<void>((r) => releases.push(r));
        return [...items];
      },
    });
    const first = gc.submit(1);
    await new Promise((r) => setTimeout(r, 10));
    const later = [2, 3, 4].map((i) => gc.submit(i));
    await new Promise((r) => setTimeout(r, 10));
    expect(batches).toEqual([[1]]);
    releases[0]();
    await first;
    await new Promise((r) => setTimeout(r, 5));
    expect(batches).toEqual([[1], [2, 3, 4]]);
    releases[1]();
    await expect(Promise.all(later)).resolves.toEqual([2, 3, 4]);
  });

  it('a failed flush rejects every item of its batch (no acknowledgement without a commit)', async () => {
    const gc = new GroupCommit<number, number>({ windowMs: 1, flush: () => Promise.reject(new Error('disk full')) });
    const r = await Promise.allSettled([gc.submit(1), gc.submit(2)]);
    expect(r.map((x) => x.status)).toEqual(['rejected', 'rejected']);
    expect(gc.stats.failedBatches).toBe(1);
  });

  it('flushes at once at maxBatch and refuses items beyond maxWaiting', async () => {
    const sizes: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const gc = new GroupCommit<number, number>({
      windowMs: 10_000,
      maxBatch: 2,
      maxWaiting: 3,
      flush: async (items) => {
        sizes.push(items.length);
        await gate;
        return [...items];
      },
    });
    const a = [gc.submit(1), gc.submit(2)];
    expect(sizes).toEqual([2]);
    const b = [gc.submit(3), gc.submit(4), gc.submit(5)];
    await expect(gc.submit(6)).rejects.toBeInstanceOf(GroupCommitFullError);
    release();
    await Promise.all([...a, ...b]);
    await gc.close();
    expect(sizes).toEqual([2, 2, 1]);
  });
});
