import { PacedQueue, PacedQueueClock } from './paced-queue';

/** A clock whose sleeps advance it at once, recording each. */
function fakeClock(): PacedQueueClock & { t: number; sleeps: number[] } {
  const c = {
    t: 1000,
    sleeps: [] as number[],
    now: () => c.t,
    sleep: async (ms: number) => {
      c.sleeps.push(ms);
      c.t += ms;
    },
  };
  return c;
}

describe('PacedQueue', () => {
  it('starts jobs in order, gapMs apart; the first at once', async () => {
    const clock = fakeClock();
    const q = new PacedQueue(10, clock);
    const starts: [number, number][] = [];
    await Promise.all([1, 2, 3, 4].map((n) => q.run(() => starts.push([n, clock.t]))));
    expect(starts).toEqual([
      [1, 1000],
      [2, 1010],
      [3, 1020],
      [4, 1030],
    ]);
    expect(clock.sleeps).toEqual([10, 10, 10]);
  });

  it('waits only for what is left of the gap, and not at all once it has passed', async () => {
    const clock = fakeClock();
    const q = new PacedQueue(10, clock);
    await q.run(() => undefined);
    clock.t += 4;
    await q.run(() => undefined);
    clock.t += 25;
    await q.run(() => undefined);
    expect(clock.sleeps).toEqual([6]);
  });

  it("gives each caller its job's outcome; a failing job does not stop the queue", async () => {
    const q = new PacedQueue(0, fakeClock());
    const a = q.run(() => {
      throw new Error('boom');
    });
    const b = q.run(async () => 'after');
    await expect(a).rejects.toThrow('boom');
    await expect(b).resolves.toBe('after');
  });

  it('waits again when a timer fires early, so no gap is ever short', async () => {
    const clock = fakeClock();
    clock.sleep = async (ms: number) => {
      clock.sleeps.push(ms);
      clock.t += Math.max(ms - 1.5, 0.25); // a timer that fires early
    };
    const q = new PacedQueue(10, clock);
    const starts: number[] = [];
    await Promise.all([0, 1, 2].map(() => q.run(() => starts.push(clock.t))));
    expect(starts[1] - starts[0]).toBeGreaterThanOrEqual(10);
    expect(starts[2] - starts[1]).toBeGreaterThanOrEqual(10);
    expect(clock.sleeps.length).toBeGreaterThan(2);
  });

  it('paces with the real clock too', async () => {
    const q = new PacedQueue(15);
    const t: number[] = [];
    await Promise.all([0, 1, 2].map(() => q.run(() => t.push(performance.now()))));
    expect(t[1] - t[0]).toBeGreaterThanOrEqual(14);
    expect(t[2] - t[1]).toBeGreaterThanOrEqual(14);
  });

  it('refuses a negative gap', () => {
    expect(() => new PacedQueue(-1)).toThrow(RangeError);
  });
});
