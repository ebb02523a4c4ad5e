/**
 * What one tile of the Room grid shows: a client's live boot stage, derived from its newest boot session and whether
 * tgt lists a login to its disk. Pure: no Nest, no database.
 */
import type { SessionStatus } from '../catalog';

export const ROOM_STATES = ['off', 'dhcp', 'loader', 'script', 'iscsi', 'running', 'error', 'disk-in-use'] as const;
export type RoomState = (typeof ROOM_STATES)[number];

/** The client's newest boot session (open or not), as far as the state needs it. */
export interface RoomSessionFacts {
  status: SessionStatus;
  startedAt: Date;
  endedAt: Date | null;
  dhcpAt: Date | null;
  loaderAt: Date | null;
  scriptAt: Date | null;
  iscsiLoginAt: Date | null;
  runningAt: Date | null;
}

export interface RoomStateFacts {
  /** The client's newest session, null when it never booted. */
  session: RoomSessionFacts | null;
  /** tgt lists a login to the client's disk (since when), null when not (or when iSCSI is off). */
  diskLogin: { since: Date } | null;
}

export interface DerivedRoomState {
  state: RoomState;
  /** Since when the client is in `state` (null: unknown, e.g. `off` for a client that never booted). */
  since: Date | null;
  /** Whether `state` comes from the newest session (so its id is worth showing). */
  fromSession: boolean;
}

/** The stage columns of an open session, latest first, with the state each one means. */
const STAGE_STATES: ReadonlyArray<[keyof RoomSessionFacts, RoomState]> = [
  ['iscsiLoginAt', 'iscsi'],
  ['scriptAt', 'script'],
  ['loaderAt', 'loader'],
  ['dhcpAt', 'dhcp'],
];

/**
 * The rules, in order:
 * 1. an open session `running` → `running` (since running_at, else its start);
 * 2. an open session `starting`/`booting` → the latest stage it has stamped: `iscsi` (login seen, not yet marked
 *    running), `script`, `loader`, `dhcp` (since that stamp); with no stamp (opened through the API): `dhcp` for
 *    `starting`, `loader` for `booting`, since the session's start;
 * 3. no open session but tgt lists a login to its disk → `disk-in-use` (since tgt first listed it): something holds
 *    the disk while DLS sees no boot — a client that booted before a restart of DLS, or another initiator;
 * 4. the newest session ended in `error` → `error` (since it ended), until the client boots again;
 * 5. otherwise → `off` (since its newest session ended, null if it never booted).
 */
export function deriveRoomState(f: RoomStateFacts): DerivedRoomState {
  const s = f.session;
  if (s && (s.status === 'starting' || s.status === 'booting' || s.status === 'running')) {
    if (s.status === 'running') return { state: 'running', since: s.runningAt ?? s.startedAt, fromSession: true };
    for (const [key, state] of STAGE_STATES) {
      const at = s[key];
      if (at instanceof Date) return { state, since: at, fromSession: true };
    }
    return { state: s.status === 'starting' ? 'dhcp' : 'loader', since: s.startedAt, fromSession: true };
  }
  if (f.diskLogin) return { state: 'disk-in-use', since: f.diskLogin.since, fromSession: false };
  if (s?.status === 'error') return { state: 'error', since: s.endedAt, fromSession: true };
  return { state: 'off', since: s?.endedAt ?? null, fromSession: false };
}
