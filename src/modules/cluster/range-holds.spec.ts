import fc from 'fast-check';
import { RangeHolds } from './range-holds';

describe('RangeHolds', () => {
  let t = 0;
  const clock = () => t;
  beforeEach(() => (t = 1000));

  it('holds a range from the send time of the statement that took it, for the lease less the margin', () => {
    const h = new RangeHolds(10_000, 1_000, clock);
    expect(h.holds('a')).toBe(false);
    const sentAt = t;
    t += 300; // the answer came back 300 ms later: the hold still counts from the send
    expect(h.confirmed([{ rangeId: 'a', epoch: '1' }], sentAt)).toEqual(['a']);
    t = sentAt + 8_999;
    expect(h.holds('a')).toBe(true);
    t = sentAt + 9_000;
    expect(h.holds('a')).toBe(false); // 1 s before the database lets anyone else take it
    expect(h.held()).toEqual([]);
    expect(h.expire()).toEqual(['a']);
    expect(h.known()).toEqual([]);
  });

  it('a renewal extends the hold and is not a new hold; a new epoch (taken over and back) is', () => {
    const h = new RangeHolds(10_000, 1_000, clock);
    h.confirmed([{ rangeId: 'a', epoch: '1' }], t);
    t += 2_000;
    expect(h.confirmed([{ rangeId: 'a', epoch: '1' }], t)).toEqual([]);
    expect(h.holds('a')).toBe(true);
    t += 8_500;
    expect(h.holds('a')).toBe(true); // renewed at +2 s: valid until +11 s
    expect(h.confirmed([{ rangeId: 'a', epoch: '3' }], t)).toEqual(['a']);
    expect(h.epochOf('a')).toBe('3');
  });

  it('a late answer to an older renewal never shortens a hold', () => {
    const h = new RangeHolds(10_000, 1_000, clock);
    h.confirmed([{ rangeId: 'a', epoch: '1' }], 5_000);
    h.confirmed([{ rangeId: 'a', epoch: '1' }], 2_000);
    t = 13_500;
    expect(h.holds('a')).toBe(true);
  });

  it('dropping stops answering at once and reports only what was held', () => {
    const h = new RangeHolds(10_000, 1_000, clock);
    h.confirmed(
      [
        { rangeId: 'a', epoch: '1' },
        { rangeId: 'b', epoch: '1' },
      ],
      t,
    );
    t += 9_500; // both ran out
    h.confirmed([{ rangeId: 'a', epoch: '1' }], t);
    expect(h.drop(['a', 'b', 'c'])).toEqual(['a']);
    expect(h.holds('a')).toBe(false);
    expect(h.known()).toEqual([]);
  });

  it('refuses a margin as long as the lease', () => {
    expect(() => new RangeHolds(1_000, 1_000)).toThrow(/margin/);
  });

  it('never holds a range past send time + lease − margin, whatever the order of answers (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(60_000), fc.nat(60_000)), { minLength: 1, maxLength: 20 }), (events) => {
        t = 0;
        const h = new RangeHolds(10_000, 1_000, clock);
        let latestSend = -Infinity;
        for (const [sendAt, probe] of events) {
          t = Math.max(t, sendAt);
          h.confirmed([{ rangeId: 'r', epoch: '1' }], sendAt);
          latestSend = Math.max(latestSend, sendAt);
          t = Math.max(t, probe);
          if (h.holds('r')) expect(t).toBeLessThan(latestSend + 9_000);
        }
      }),
    );
  });
});
