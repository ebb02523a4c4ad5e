import { QueueDropReason, RequestQueue } from './request-queue';

function setup(capacity = 4, deadlineMs = 1000) {
  let now = 0;
  const drops: [string, QueueDropReason][] = [];
  const q = new RequestQueue<string>({ capacity, deadlineMs, now: () => now, onDrop: (item, reason) => drops.push([item, reason]) });
  return { q, drops, at: (t: number) => (now = t) };
}

const drain = (q: RequestQueue<string>) => {
  const out: string[] = [];
  for (let d = q.take(); d; d = q.take()) out.push(d.item);
  return out;
};

describe('RequestQueue', () => {
  it('serves the urgent lane first and the newest first within a lane', () => {
    const { q } = setup(10);
    q.push('d1');
    q.push('r1', { urgent: true });
    q.push('d2');
    q.push('r2', { urgent: true });
    expect(drain(q)).toEqual(['r2', 'r1', 'd2', 'd1']);
    expect(q.depth).toBe(0);
  });

  it('drops requests older than the deadline instead of serving them, and counts them', () => {
    const { q, drops, at } = setup(10, 1000);
    at(0);
    q.push('old-d');
    q.push('old-r', { urgent: true });
    at(600);
    q.push('fresh');
    at(1500); // old ones waited 1500 ms, fresh one 900 ms
    expect(q.take()).toEqual({ item: 'fresh', arrivedAt: 600 });
    expect(q.take()).toBeNull();
    expect(drops).toEqual([
      ['old-r', 'stale'],
      ['old-d', 'stale'],
    ]);
    expect(q.dropped).toEqual({ stale: 2, overflow: 0, superseded: 0 });
  });

  it('stays within its capacity, shedding the oldest DISCOVER before any urgent request', () => {
    const { q, drops } = setup(3);
    q.push('r1', { urgent: true });
    q.push('d1');
    q.push('d2');
    q.push('d3');
    q.push('d4');
    expect(q.depth).toBe(3);
    expect(drops).toEqual([
      ['d1', 'overflow'],
      ['d2', 'overflow'],
    ]);
    q.push('r2', { urgent: true });
    q.push('r3', { urgent: true });
    q.push('r4', { urgent: true });
    expect(drain(q)).toEqual(['r4', 'r3', 'r2']);
  });

  it('keeps only the newest copy of one client’s message (a retransmission replaces the waiting one)', () => {
    const { q, drops } = setup(10);
    q.push('a-1', { key: 'aa discover' });
    q.push('b-1', { key: 'bb discover' });
    q.push('a-2', { key: 'aa discover' });
    expect(q.depth).toBe(2);
    expect(drops).toEqual([['a-1', 'superseded']]);
    expect(drain(q)).toEqual(['a-2', 'b-1']);
    q.push('a-3', { key: 'aa discover' }); // the key is free again once served
    expect(drain(q)).toEqual(['a-3']);
  });

  it('holds bounded memory under a flood far above capacity', () => {
    const { q, at } = setup(1000, 3000);
    for (let i = 0; i < 200_000; i++) {
      at(i);
      q.push(`d${i}`, { key: `m${i % 50_000} 1` });
      if (i % 3 === 0) q.take();
    }
    expect(q.depth).toBeLessThanOrEqual(1000);
    const d = q.take()!;
    expect(199_999 - d.arrivedAt).toBeLessThan(3000);
  });
});
