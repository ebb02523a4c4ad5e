import type { DlsEvent } from '../../events/types';
import {
  applyEvent,
  bootTimeText,
  clientOfEvent,
  countStates,
  mergeTile,
  rangeBetween,
  rangeOf,
  sectionsOf,
  tileOf,
  type RoomClient,
  type Tile,
} from './room-state';

const ID = '00000000-0000-4000-8000-000000000001';
const S1 = '10000000-0000-4000-8000-000000000001';
const S2 = '10000000-0000-4000-8000-000000000002';
const T0 = Date.parse('2026-12-05T10:00:00.000Z');

function client(over: Partial<RoomClient> = {}): RoomClient {
  return {
    id: ID,
    hostname: 'pc-01',
    macAddress: '52:54:00:00:00:01',
    ipAddress: null,
    groupId: null,
    enabled: true,
    pending: false,
    imageId: null,
    imageName: null,
    snapshotId: null,
    versionLabel: null,
    diskPolicy: null,
    state: 'off',
    stateSince: null,
    sessionId: null,
    lastBootSeconds: null,
    lastBootAt: null,
    ...over,
  };
}

let seq = 100;
function ev(type: DlsEvent['type'], body: Record<string, unknown>, atMs = T0 + seq * 10): DlsEvent {
  return { id: String(++seq), type, time: new Date(atMs).toISOString(), body } as unknown as DlsEvent;
}
const dhcp = (message = 'discover', extra: Record<string, unknown> = {}) =>
  ev('dhcp', { mac: '52:54:00:00:00:01', clientId: ID, message, reply: message === 'request' ? 'ack' : 'offer', ip: '10.0.0.5', ...extra });
const tftp = (ok = true) => ev('tftp', { file: 'undionly.kpxe', clientIp: '10.0.0.5', clientId: ID, ok });
const script = (outcome = 'served') => ev('boot-script', { mac: null, clientId: ID, clientIp: '10.0.0.5', outcome });
const login = () => ev('iscsi.login', { clientId: ID, ip: '10.0.0.5' });
const logout = () => ev('iscsi.logout', { clientId: ID, ip: '10.0.0.5' });
const session = (status: string, sessionId = S1, extra: Record<string, unknown> = {}) =>
  ev('boot-session', {
    sessionId,
    clientId: ID,
    status,
    previousStatus: null,
    clientIp: '10.0.0.5',
    bootTimeSeconds: null,
    elapsedMs: null,
    ...extra,
  });

const run = (t: Tile, ...es: DlsEvent[]) => es.reduce(applyEvent, t);

describe('room-state reducer', () => {
  it('walks a whole boot: dhcp → loader → script → iscsi → running with its boot time', () => {
    let t = tileOf(client());
    t = applyEvent(t, dhcp());
    expect(t.state).toBe('dhcp');
    expect(t.bootStartedAt).not.toBeNull();
    t = applyEvent(t, session('starting'));
    expect([t.state, t.sessionId]).toEqual(['dhcp', S1]);
    t = applyEvent(t, dhcp('request'));
    expect(t.ipAddress).toBe('10.0.0.5');
    t = applyEvent(t, tftp());
    expect(t.state).toBe('loader');
    t = applyEvent(t, script());
    expect(t.state).toBe('script');
    t = applyEvent(t, login());
    expect(t.state).toBe('iscsi');
    t = applyEvent(t, session('running', S1, { bootTimeSeconds: 12.34 }));
    expect(t.state).toBe('running');
    expect(t.lastBootSeconds).toBe(12.34);
    expect(t.bootStartedAt).toBeNull();
    expect(bootTimeText(t.lastBootSeconds)).toBe('12.3 s');
  });

  it('takes a loader fetched over HTTP (UEFI HTTP boot) as the loader step, by client id or by address', () => {
    const overHttp = (clientId: string | null) =>
      ev('boot-file', { file: 'ipxe.efi', clientIp: '10.0.0.5', clientId, mac: null, bytes: 1, durationMs: 1 });
    const t = applyEvent(applyEvent(tileOf(client()), dhcp()), overHttp(ID));
    expect(t.state).toBe('loader');
    expect(clientOfEvent(overHttp(null), (ip) => (ip === '10.0.0.5' ? ID : undefined))).toBe(ID);
  });

  it('a session moving to booting keeps the stage the tile shows: a script-only boot never flashes `loader`', () => {
    const atDhcp = run(tileOf(client()), dhcp(), session('starting'));
    expect(atDhcp.state).toBe('dhcp');
    // the server moves the session to booting just before its boot-script event
    const booting = applyEvent(atDhcp, session('booting'));
    expect(booting.state).toBe('dhcp');
    expect(applyEvent(booting, script()).state).toBe('script');
    // a page opened mid-boot first hears of the session as booting: past DHCP, so `loader`
    expect(applyEvent(tileOf(client()), session('booting')).state).toBe('loader');
    expect(bootTimeText(3)).toBe('3 s');
    expect(bootTimeText(125)).toBe('2 min 5 s');
  });

  it('never goes backwards within one boot (late loader, iPXE DHCP, booting after script)', () => {
    const t = run(tileOf(client()), dhcp(), session('starting'), tftp(), script());
    expect(t.state).toBe('script');
    expect(applyEvent(t, tftp())).toBe(t);
    expect(applyEvent(t, dhcp('discover')).state).toBe('script');
    expect(applyEvent(t, session('booting')).state).toBe('script');
    const running = run(t, login(), session('running', S1, { bootTimeSeconds: 9 }));
    expect(run(running, tftp(), script(), login(), session('booting')).state).toBe('running');
  });

  it('a DISCOVER from rest starts a boot; a new session after running starts another', () => {
    const off = run(tileOf(client({ state: 'running', sessionId: S1 })), session('shutdown', S1));
    expect(off.state).toBe('off');
    expect(applyEvent(off, dhcp()).state).toBe('dhcp');
    const errored = tileOf(client({ state: 'error', sessionId: S1 }));
    expect(applyEvent(errored, dhcp()).state).toBe('dhcp');
    // A reboot of a running client: the server opens a new session.
    const running = tileOf(client({ state: 'running', sessionId: S1 }));
    expect(applyEvent(running, dhcp()).state).toBe('running');
    const rebooted = applyEvent(running, session('starting', S2));
    expect([rebooted.state, rebooted.sessionId]).toEqual(['dhcp', S2]);
  });

  it('error and shutdown of the session; a late end of an older session is ignored', () => {
    const booting = run(tileOf(client()), session('starting', S2), tftp());
    expect(applyEvent(booting, session('error', S2, { error: 'timeout' })).state).toBe('error');
    expect(applyEvent(booting, session('shutdown', S1))).toBe(booting);
    const running = run(booting, session('running', S2, { bootTimeSeconds: 5 }));
    expect(applyEvent(running, session('shutdown', S2)).state).toBe('off');
  });

  it('iscsi.logout turns a resting tile (disk in use) off, and leaves a boot alone', () => {
    const inUse = tileOf(client({ state: 'disk-in-use' }));
    expect(applyEvent(inUse, logout()).state).toBe('off');
    const booting = run(tileOf(client()), dhcp(), tftp(), script(), login());
    expect(applyEvent(booting, logout())).toBe(booting);
  });

  it('ignores failed TFTP transfers and refused scripts', () => {
    const t = run(tileOf(client()), dhcp());
    expect(applyEvent(t, tftp(false))).toBe(t);
    expect(applyEvent(t, script('refused'))).toBe(t);
  });

  it('elapsed time of a boot starts at the session start the event reports', () => {
    const at = T0 + 50_000;
    const t = applyEvent(tileOf(client()), ev('boot-session', { sessionId: S1, clientId: ID, status: 'booting', elapsedMs: 4000 }, at));
    expect(t.state).toBe('loader');
    expect(t.bootStartedAt).toBe(at - 4000);
  });

  it('routes TFTP events by client id, else by address', () => {
    const byIp = (ip: string) => (ip === '10.0.0.9' ? 'x' : undefined);
    expect(clientOfEvent(ev('tftp', { clientIp: '10.0.0.9', clientId: null, ok: true }), byIp)).toBe('x');
    expect(clientOfEvent(ev('tftp', { clientIp: '10.0.0.9', clientId: ID, ok: true }), byIp)).toBe(ID);
    expect(clientOfEvent(ev('tftp', { clientIp: '10.0.0.8', ok: true }), byIp)).toBeNull();
    expect(clientOfEvent(ev('change', { entityType: 'clients', entityId: ID }), byIp)).toBeNull();
  });
});

describe('room-state snapshot merge', () => {
  it('keeps event-derived state newer than a refetched snapshot, takes the rest from it', () => {
    const t = run(tileOf(client()), dhcp(), tftp());
    const eventId = Number(t.eventId);
    const snap = client({ state: 'off', hostname: 'renamed', imageName: 'win11' });
    const merged = mergeTile(t, snap, { lastEventId: String(eventId - 1), generatedAt: new Date(T0).toISOString() });
    expect([merged.state, merged.hostname, merged.imageName]).toEqual(['loader', 'renamed', 'win11']);
  });

  it('a snapshot newer than the events wins', () => {
    const t = run(tileOf(client()), dhcp(), tftp());
    const snap = client({ state: 'running', stateSince: new Date(T0 + 60_000).toISOString(), lastBootSeconds: 20, sessionId: S1 });
    const merged = mergeTile(t, snap, { lastEventId: String(Number(t.eventId) + 5), generatedAt: new Date(T0 + 60_000).toISOString() });
    expect([merged.state, merged.lastBootSeconds]).toEqual(['running', 20]);
  });

  it('without event ids compares the event time with the snapshot time, and returns the same tile when nothing changed', () => {
    const t = { ...applyEvent(tileOf(client()), dhcp()), eventId: null };
    const older = { lastEventId: null, generatedAt: new Date((t.eventAt ?? 0) - 1000).toISOString() };
    expect(mergeTile(t, client(), older).state).toBe('dhcp');
    const same = tileOf(client());
    expect(mergeTile(same, client(), { lastEventId: '5', generatedAt: new Date(T0).toISOString() })).toBe(same);
  });
});

describe('room-state grouping and selection', () => {
  const ranges = [
    { id: 'r1', name: 'lab', cidr: '10.0.0.0/16' },
    { id: 'r2', name: 'room-a', cidr: '10.0.1.0/24' },
  ];
  it('finds the most specific range holding an address', () => {
    expect(rangeOf('10.0.1.7', ranges)?.id).toBe('r2');
    expect(rangeOf('10.0.9.7', ranges)?.id).toBe('r1');
    expect(rangeOf('192.168.1.1', ranges)).toBeNull();
    expect(rangeOf(null, ranges)).toBeNull();
    expect(rangeOf('not-an-ip', ranges)).toBeNull();
  });

  it('sections by group or range, hostnames in natural order, "No group"/"No range" last', () => {
    const tiles = [
      { id: 'a', hostname: 'pc-10', groupId: 'g1', ipAddress: '10.0.1.3' },
      { id: 'b', hostname: 'pc-2', groupId: 'g1', ipAddress: '192.168.0.1' },
      { id: 'c', hostname: 'pc-1', groupId: null, ipAddress: '10.0.2.1' },
    ];
    const groups = [
      { id: 'g1', name: 'Lab' },
      { id: 'g2', name: 'Empty' },
    ];
    expect(sectionsOf(tiles, 'group', groups, ranges)).toEqual([
      { key: 'g1', label: 'Lab', ids: ['b', 'a'] },
      { key: 'none', label: 'No group', ids: ['c'] },
    ]);
    expect(sectionsOf(tiles, 'range', groups, ranges).map((s) => [s.label, s.ids])).toEqual([
      ['lab (10.0.0.0/16)', ['c']],
      ['room-a (10.0.1.0/24)', ['a']],
      ['No range', ['b']],
    ]);
  });

  it('counts states, disabled and pending', () => {
    const c = countStates([
      { state: 'running', enabled: true, pending: false },
      { state: 'off', enabled: false, pending: true },
      { state: 'running', enabled: true, pending: false },
    ]);
    expect([c.running, c.off, c.disabled, c.pending, c.error]).toEqual([2, 1, 1, 1, 0]);
  });

  it('range selection either way', () => {
    const order = ['a', 'b', 'c', 'd'];
    expect(rangeBetween(order, 'b', 'd')).toEqual(['b', 'c', 'd']);
    expect(rangeBetween(order, 'd', 'b')).toEqual(['b', 'c', 'd']);
    expect(rangeBetween(order, null, 'c')).toEqual(['c']);
  });
});
