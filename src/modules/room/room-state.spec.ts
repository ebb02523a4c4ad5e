import { deriveRoomState, RoomSessionFacts, ROOM_STATES, RoomState } from './room-state';

const T = (s: number) => new Date(Date.UTC(2026, 11, 5, 10, 0, s));
const session = (over: Partial<RoomSessionFacts> = {}): RoomSessionFacts => ({
  status: 'starting',
  startedAt: T(0),
  endedAt: null,
  dhcpAt: null,
  loaderAt: null,
  scriptAt: null,
  iscsiLoginAt: null,
  runningAt: null,
  ...over,
});

describe('deriveRoomState', () => {
  it('a client that never booted is off, with no time', () => {
    expect(deriveRoomState({ session: null, diskLogin: null })).toEqual({ state: 'off', since: null, fromSession: false });
  });

  it('an open session shows its latest stamped stage, since that stamp', () => {
    const s = session({ dhcpAt: T(1) });
    expect(deriveRoomState({ session: s, diskLogin: null })).toEqual({ state: 'dhcp', since: T(1), fromSession: true });
    s.status = 'booting';
    s.loaderAt = T(3);
    expect(deriveRoomState({ session: s, diskLogin: null })).toMatchObject({ state: 'loader', since: T(3) });
    s.scriptAt = T(5);
    expect(deriveRoomState({ session: s, diskLogin: null })).toMatchObject({ state: 'script', since: T(5) });
    s.iscsiLoginAt = T(6);
    expect(deriveRoomState({ session: s, diskLogin: { since: T(6) } })).toMatchObject({ state: 'iscsi', since: T(6) });
  });

  it('a session opened without DHCP (external DHCP server) starts at its script', () => {
    expect(deriveRoomState({ session: session({ status: 'booting', scriptAt: T(2) }), diskLogin: null })).toMatchObject({ state: 'script' });
  });

  it('an open session without stamps (opened through the API) shows dhcp while starting, loader while booting', () => {
    expect(deriveRoomState({ session: session(), diskLogin: null })).toEqual({ state: 'dhcp', since: T(0), fromSession: true });
    expect(deriveRoomState({ session: session({ status: 'booting' }), diskLogin: null })).toMatchObject({ state: 'loader', since: T(0) });
  });

  it('running is running whatever the stamps, since running_at (else the start)', () => {
    const all = { dhcpAt: T(1), loaderAt: T(2), scriptAt: T(3), iscsiLoginAt: T(4) };
    expect(deriveRoomState({ session: session({ status: 'running', ...all, runningAt: T(5) }), diskLogin: { since: T(4) } })).toEqual({
      state: 'running',
      since: T(5),
      fromSession: true,
    });
    expect(deriveRoomState({ session: session({ status: 'running' }), diskLogin: null })).toMatchObject({ since: T(0) });
  });

  it('a login to the disk without an open session is disk-in-use, before error and off', () => {
    const login = { since: T(30) };
    expect(deriveRoomState({ session: null, diskLogin: login })).toEqual({ state: 'disk-in-use', since: T(30), fromSession: false });
    for (const status of ['shutdown', 'error'] as const) {
      expect(deriveRoomState({ session: session({ status, endedAt: T(20) }), diskLogin: login }).state).toBe('disk-in-use');
    }
  });

  it('a newest session that ended in error is error (since it ended); a shut-down one is off', () => {
    expect(deriveRoomState({ session: session({ status: 'error', endedAt: T(9) }), diskLogin: null })).toEqual({
      state: 'error',
      since: T(9),
      fromSession: true,
    });
    expect(deriveRoomState({ session: session({ status: 'shutdown', endedAt: T(9) }), diskLogin: null })).toEqual({
      state: 'off',
      since: T(9),
      fromSession: false,
    });
  });

  it('every state is reachable', () => {
    const seen = new Set<RoomState>();
    const stamps = [{}, { dhcpAt: T(1) }, { loaderAt: T(2) }, { scriptAt: T(3) }, { iscsiLoginAt: T(4) }];
    for (const status of ['starting', 'booting', 'running', 'shutdown', 'error'] as const) {
      for (const st of stamps) {
        for (const diskLogin of [null, { since: T(0) }]) {
          seen.add(deriveRoomState({ session: session({ status, ...st }), diskLogin }).state);
          seen.add(deriveRoomState({ session: null, diskLogin }).state);
        }
      }
    }
    expect([...seen].sort()).toEqual([...ROOM_STATES].sort());
  });
});
