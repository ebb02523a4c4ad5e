import { Role } from '@common/auth/role';
import { BoundedBuffer } from './bounded-buffer';
import { EventHub, HEARTBEAT, SseSink } from './event-subscriber';
import type { StoredEvent } from './event-types';

/** A transport that takes `room` chunks, then pushes back until `drain()`. */
class FakeSink implements SseSink {
  chunks: string[] = [];
  ended = false;
  private drainCb?: () => void;
  constructor(public room = Infinity) {}
  write(chunk: string): boolean {
    this.chunks.push(chunk);
    return this.chunks.length < this.room;
  }
  onDrain(cb: () => void): void {
    this.drainCb = cb;
  }
  end(): void {
    this.ended = true;
  }
  drain(moreRoom: number): void {
    this.room = this.chunks.length + moreRoom;
    const cb = this.drainCb;
    this.drainCb = undefined;
    cb?.();
  }
  ids(): string[] {
    return this.chunks.map((c) => /^id: (\d+)/.exec(c)?.[1]).filter((x): x is string => !!x);
  }
  types(): string[] {
    return this.chunks.map((c) => /^event: (.+)$/m.exec(c)?.[1] ?? 'comment');
  }
}

let nextId = 1;
const ev = (minRole: Role = Role.Viewer, type: StoredEvent['type'] = 'boot-session'): StoredEvent => ({
  id: String(nextId++),
  type,
  at: new Date('2026-12-05T10:00:00Z'),
  node: 'n1',
  minRole,
  body: { n: nextId },
});

describe('EventHub / EventSubscriber', () => {
  beforeEach(() => (nextId = 1));

  it('fans every event out to every subscriber as id/event/data messages', () => {
    const hub = new EventHub(10);
    const a = new FakeSink();
    const b = new FakeSink();
    hub.subscribe(a, Role.Viewer);
    hub.subscribe(b, Role.Admin);
    hub.deliver([ev(), ev()]);
    expect(a.ids()).toEqual(['1', '2']);
    expect(b.ids()).toEqual(['1', '2']);
    expect(a.chunks[0]).toBe(
      'id: 1\nevent: boot-session\ndata: {"id":"1","type":"boot-session","time":"2026-12-05T10:00:00.000Z","node":"n1","body":{"n":2}}\n\n',
    );
  });

  it('filters by role: audit (admin) events reach admins only', () => {
    const hub = new EventHub(10);
    const viewer = new FakeSink();
    const operator = new FakeSink();
    const admin = new FakeSink();
    hub.subscribe(viewer, Role.Viewer);
    hub.subscribe(operator, Role.Operator);
    hub.subscribe(admin, Role.Admin);
    hub.deliver([ev(Role.Admin, 'audit'), ev(), ev(Role.Operator)]);
    expect(viewer.ids()).toEqual(['2']);
    expect(operator.ids()).toEqual(['2', '3']);
    expect(admin.ids()).toEqual(['1', '2', '3']);
  });

  it('waits for drain when the transport pushes back, then writes the rest in order', () => {
    const hub = new EventHub(10);
    const sink = new FakeSink(2);
    const sub = hub.subscribe(sink, Role.Viewer);
    hub.deliver([ev(), ev(), ev(), ev()]);
    expect(sink.ids()).toEqual(['1', '2']);
    expect(sub.lag).toBe(2);
    hub.deliver([ev()]);
    expect(sink.ids()).toEqual(['1', '2']); // still waiting for drain
    sink.drain(100);
    expect(sink.ids()).toEqual(['1', '2', '3', '4', '5']);
    expect(sub.lag).toBe(0);
  });

  it('drops a subscriber the ring laps, with a final `dropped` event; others carry on', () => {
    const hub = new EventHub(5);
    const slow = new FakeSink(1);
    const fast = new FakeSink();
    const closed: string[] = [];
    const s = hub.subscribe(slow, Role.Viewer, () => closed.push('slow'));
    hub.subscribe(fast, Role.Viewer);
    hub.deliver([ev(), ev(), ev()]);
    expect(s.closed).toBe(false);
    hub.deliver([ev(), ev(), ev(), ev()]); // 6 behind > 5
    expect(s.closed).toBe(true);
    expect(slow.types()).toEqual(['boot-session', 'dropped']);
    expect(slow.ended).toBe(true);
    expect(s.droppedReason).toMatch(/more than 5 events behind/);
    expect(closed).toEqual(['slow']);
    expect(hub.size).toBe(1);
    expect(fast.ids()).toHaveLength(7);
  });

  it('memory is the shared ring only: a stalled subscriber holds no copies', () => {
    const hub = new EventHub(3);
    hub.deliver([ev(), ev(), ev(), ev()]);
    expect(hub.entry(0)).toBeUndefined();
    expect(hub.entry(1)?.id).toBe('2');
    expect(hub.entry(3)?.id).toBe('4');
    expect(hub.entry(4)).toBeUndefined();
  });

  it('resume: live events during the replay wait in the ring and are not sent twice', async () => {
    const hub = new EventHub(10);
    const sink = new FakeSink();
    const sub = hub.subscribe(sink, Role.Viewer);
    sub.beginReplay();
    const e1 = ev();
    const e2 = ev();
    hub.deliver([e2, ev()]); // live: 2 (also in the replay), 3
    expect(sink.chunks).toEqual([]);
    await sub.replay(e1);
    await sub.replay(e2);
    sub.endReplay();
    expect(sink.ids()).toEqual(['1', '2', '3']);
  });

  it('replay waits for drain between events', async () => {
    const hub = new EventHub(10);
    const sink = new FakeSink(1);
    const sub = hub.subscribe(sink, Role.Viewer);
    sub.beginReplay();
    let done = false;
    const p = sub.replay(ev()).then(() => (done = true));
    await Promise.resolve();
    expect(done).toBe(false);
    sink.drain(10);
    await p;
    expect(done).toBe(true);
  });

  it('a replaying subscriber lapped by live events is dropped when the replay ends', async () => {
    const hub = new EventHub(2);
    const sink = new FakeSink();
    const sub = hub.subscribe(sink, Role.Viewer);
    sub.beginReplay();
    hub.deliver([ev(), ev(), ev()]);
    sub.endReplay();
    expect(sub.closed).toBe(true);
    expect(sink.types()).toEqual(['dropped']);
  });

  it('heartbeats only when the transport is not backed up; control messages carry no id', () => {
    const hub = new EventHub(10);
    const sink = new FakeSink(1);
    const sub = hub.subscribe(sink, Role.Viewer);
    hub.heartbeat();
    expect(sink.chunks).toEqual([HEARTBEAT]);
    sink.drain(1);
    hub.deliver([ev()]);
    hub.heartbeat();
    expect(sink.chunks).toHaveLength(2);
    sink.drain(10);
    sub.control('reset', { reason: 'x' });
    expect(sink.chunks[2]).toMatch(/^event: reset\ndata: \{"type":"reset","time":"[^"]+","body":\{"reason":"x"\}\}\n\n$/);
  });

  it('closeAll ends every stream', () => {
    const hub = new EventHub(10);
    const a = new FakeSink();
    hub.subscribe(a, Role.Viewer);
    hub.closeAll();
    expect(a.ended).toBe(true);
    expect(hub.size).toBe(0);
  });
});

describe('BoundedBuffer', () => {
  it('keeps order and drops the oldest when full, counting drops', () => {
    const b = new BoundedBuffer<number>(3);
    expect([b.push(1), b.push(2), b.push(3)]).toEqual([true, true, true]);
    expect(b.push(4)).toBe(false);
    expect(b.push(5)).toBe(false);
    expect(b.dropped).toBe(2);
    expect(b.size).toBe(3);
    expect(b.take(2)).toEqual([3, 4]);
    b.push(6);
    expect(b.take(10)).toEqual([5, 6]);
    expect(b.size).toBe(0);
  });

  it('refuses a non-positive capacity', () => {
    expect(() => new BoundedBuffer(0)).toThrow(RangeError);
  });
});
