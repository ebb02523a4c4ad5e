/**
 * The Room's live state, as pure functions: a tile per client from the `GET /room` snapshot, moved by the boot-plane
 * events of the live stream (DHCP → TFTP loader → boot script → iSCSI login → running), and the snapshot merged back
 * in when it is refetched without losing what newer events already said. No React, no DOM: unit-tested beside.
 */
import type { Schemas } from '../../api/client';
import type { DlsEvent } from '../../events/types';

export type RoomClient = Schemas['RoomClientDto'];
export type RoomSnapshot = Schemas['RoomSnapshotDto'];
export type RoomState = RoomClient['state'];

export const ROOM_STATES: readonly RoomState[] = ['off', 'dhcp', 'loader', 'script', 'iscsi', 'running', 'error', 'disk-in-use'];

/** A client as the Room shows it: the snapshot's fields, moved on by events. */
export interface Tile extends RoomClient {
  /** When the current boot started (ms since epoch), for the elapsed time while booting; null when unknown. */
  bootStartedAt: number | null;
  /** The newest event applied to the live fields (id and time, ms): a refetched snapshot older than it loses. */
  eventId: string | null;
  eventAt: number | null;
}

/** Where a state sits in a boot: resting states (no boot under way) are 0, then each stage further. */
const RANK: Record<RoomState, number> = { off: 0, error: 0, 'disk-in-use': 0, dhcp: 1, loader: 2, script: 3, iscsi: 4, running: 5 };

export const isBooting = (s: RoomState): boolean => RANK[s] >= 1 && RANK[s] <= 4;

export function tileOf(c: RoomClient): Tile {
  return {
    ...c,
    bootStartedAt: isBooting(c.state) && c.stateSince ? Date.parse(c.stateSince) : null,
    eventId: null,
    eventAt: null,
  };
}

/** The client an event is about: its `clientId`, else the client holding the event's address (TFTP knows only the IP). */
export function clientOfEvent(e: DlsEvent, byIp: (ip: string) => string | undefined): string | null {
  const b = e.body as { clientId?: string | null; clientIp?: string | null; ip?: string | null };
  switch (e.type) {
    case 'dhcp':
    case 'boot-script':
    case 'iscsi.login':
    case 'iscsi.logout':
    case 'boot-session':
    case 'tftp':
    case 'boot-file':
      if (b.clientId) return b.clientId;
      if (b.clientIp) return byIp(b.clientIp) ?? null;
      return null;
    default:
      return null;
  }
}

/**
 * One event applied to one tile: the new tile, or the same object when nothing changes. Within one boot the state
 * only moves forward (a late TFTP event never pulls a tile back from `script`); a boot session event with another
 * session id is a new boot and may set anything; a DHCP DISCOVER from a resting tile starts a boot. A DISCOVER while
 * booting is iPXE's own DHCP (the same boot), and one while running is decided by the server (it closes the session
 * when tgt no longer lists the login), so neither moves the tile.
 */
export function applyEvent(t: Tile, e: DlsEvent): Tile {
  const at = Date.parse(e.time);
  const stamp = { eventId: e.id ?? t.eventId, eventAt: Number.isFinite(at) ? at : t.eventAt };
  const since = Number.isFinite(at) ? new Date(at).toISOString() : new Date().toISOString();
  const forward = (to: RoomState, extra: Partial<Tile> = {}): Tile => {
    if (RANK[to] <= RANK[t.state]) return Object.keys(extra).length ? { ...t, ...extra, ...stamp } : t;
    const starting = RANK[t.state] === 0;
    return { ...t, ...extra, ...stamp, state: to, stateSince: since, bootStartedAt: starting ? at : (t.bootStartedAt ?? at) };
  };
  switch (e.type) {
    case 'dhcp': {
      const b = e.body as Schemas['DhcpEventBodyDto'];
      const ip = b.ip && b.reply === 'ack' && b.ip !== t.ipAddress ? { ipAddress: b.ip } : {};
      if (b.message === 'discover' && RANK[t.state] === 0) {
        return { ...t, ...ip, ...stamp, state: 'dhcp', stateSince: since, sessionId: null, bootStartedAt: at };
      }
      return Object.keys(ip).length ? { ...t, ...ip, ...stamp } : t;
    }
    case 'tftp': {
      const b = e.body as Schemas['TftpEventBodyDto'];
      return b.ok ? forward('loader') : t;
    }
    case 'boot-file':
      // A loader fetched over HTTP (UEFI HTTP boot): only whole files are published.
      return forward('loader');
    case 'boot-script': {
      const b = e.body as Schemas['BootScriptEventBodyDto'];
      return b.outcome === 'served' ? forward('script') : t;
    }
    case 'iscsi.login':
      return forward('iscsi');
    case 'iscsi.logout':
      // With a boot under way the session decides (a logout during the handover from iPXE to the OS is normal).
      return RANK[t.state] === 0 && t.state !== 'off' ? { ...t, ...stamp, state: 'off', stateSince: since, bootStartedAt: null } : t;
    case 'boot-session':
      return applySession(t, e.body as Schemas['BootSessionEventBodyDto'], at, since, stamp);
    default:
      return t;
  }
}

function applySession(t: Tile, b: Schemas['BootSessionEventBodyDto'], at: number, since: string, stamp: Pick<Tile, 'eventId' | 'eventAt'>): Tile {
  const same = t.sessionId === b.sessionId;
  const startedAt = b.elapsedMs != null && Number.isFinite(at) ? at - b.elapsedMs : null;
  const guessed: RoomState =
    b.status === 'starting'
      ? 'dhcp'
      : b.status === 'booting'
        ? 'loader'
        : b.status === 'running'
          ? 'running'
          : b.status === 'error'
            ? 'error'
            : 'off';
  // `booting` says a loader or a script was served, not which: the tftp / boot-script event that follows it says.
  // For the session the tile already shows, keep its stage (so it never flashes `loader` on a script-only boot);
  // only a session first seen as booting (the page opened mid-boot) starts at `loader`.
  const to: RoomState = b.status === 'booting' && same && isBooting(t.state) ? t.state : guessed;
  const ip = b.clientIp && !t.ipAddress ? { ipAddress: b.clientIp } : {};
  if (to === 'running') {
    return {
      ...t,
      ...ip,
      ...stamp,
      state: 'running',
      stateSince: t.state === 'running' && same ? t.stateSince : since,
      sessionId: b.sessionId,
      lastBootSeconds: b.bootTimeSeconds ?? t.lastBootSeconds,
      lastBootAt: b.bootTimeSeconds != null ? since : t.lastBootAt,
      bootStartedAt: null,
    };
  }
  if (to === 'error' || to === 'off') {
    // A late end of an older session never ends the one the tile now shows.
    if (t.sessionId && !same && isBooting(t.state)) return t;
    return { ...t, ...ip, ...stamp, state: to, stateSince: since, sessionId: b.sessionId, bootStartedAt: null };
  }
  // starting / booting: a new session (another id, or a tile at rest) sets the stage; the same one only moves forward.
  const fresh = !same && (t.sessionId !== null || RANK[t.state] === 0 || t.state === 'running');
  if (same && t.state === 'running') return t;
  if (fresh || RANK[to] > RANK[t.state]) {
    return {
      ...t,
      ...ip,
      ...stamp,
      state: to,
      stateSince: since,
      sessionId: b.sessionId,
      bootStartedAt: startedAt ?? (fresh ? at : (t.bootStartedAt ?? at)),
    };
  }
  if (!same || (startedAt !== null && t.bootStartedAt !== startedAt)) {
    return { ...t, ...ip, ...stamp, sessionId: b.sessionId, bootStartedAt: startedAt ?? t.bootStartedAt };
  }
  return Object.keys(ip).length ? { ...t, ...ip, ...stamp } : t;
}

/** Whether the tile's live fields come from an event newer than the snapshot (then they stay). */
export function newerThanSnapshot(t: Tile, snap: Pick<RoomSnapshot, 'lastEventId' | 'generatedAt'>): boolean {
  if (t.eventId && snap.lastEventId && /^\d+$/.test(t.eventId) && /^\d+$/.test(snap.lastEventId)) {
    return BigInt(t.eventId) > BigInt(snap.lastEventId);
  }
  if (t.eventAt === null) return false;
  return t.eventAt > Date.parse(snap.generatedAt);
}

/**
 * A refetched snapshot's client over the tile it had: what the client is (name, image, group, …) comes from the
 * snapshot; its live state too, unless an event newer than the snapshot set it. Returns `prev` when nothing changed.
 */
export function mergeTile(prev: Tile | undefined, c: RoomClient, snap: Pick<RoomSnapshot, 'lastEventId' | 'generatedAt'>): Tile {
  if (!prev) return tileOf(c);
  const keepLive = newerThanSnapshot(prev, snap);
  const next: Tile = keepLive
    ? {
        ...c,
        ipAddress: c.ipAddress ?? prev.ipAddress,
        state: prev.state,
        stateSince: prev.stateSince,
        sessionId: prev.sessionId,
        lastBootSeconds: prev.lastBootSeconds ?? c.lastBootSeconds,
        lastBootAt: prev.lastBootAt ?? c.lastBootAt,
        bootStartedAt: prev.bootStartedAt,
        eventId: prev.eventId,
        eventAt: prev.eventAt,
      }
    : {
        ...tileOf(c),
        ipAddress: c.ipAddress ?? prev.ipAddress,
        bootStartedAt: c.state === prev.state && isBooting(c.state) ? (prev.bootStartedAt ?? tileOf(c).bootStartedAt) : tileOf(c).bootStartedAt,
      };
  return shallowEqual(prev, next) ? prev : next;
}

function shallowEqual(a: Tile, b: Tile): boolean {
  const ka = Object.keys(a) as (keyof Tile)[];
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => a[k] === b[k]);
}

// ---- grouping ----

/** An IPv4 address as an unsigned 32-bit number, or null. */
export function ipv4ToNumber(ip: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip.trim());
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return null;
  return ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3];
}

export interface CidrRange {
  id: string;
  name: string;
  cidr: string;
}

/** The range whose CIDR holds `ip` (the most specific when ranges nest), or null. */
export function rangeOf<R extends CidrRange>(ip: string | null, ranges: readonly R[]): R | null {
  if (!ip) return null;
  const n = ipv4ToNumber(ip);
  if (n === null) return null;
  let best: R | null = null;
  let bestBits = -1;
  for (const r of ranges) {
    const [base, bitsText] = r.cidr.split('/');
    const b = ipv4ToNumber(base);
    const bits = Number(bitsText ?? '32');
    if (b === null || !Number.isInteger(bits) || bits < 0 || bits > 32) continue;
    const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
    if ((n & mask) >>> 0 === (b & mask) >>> 0 && bits > bestBits) {
      best = r;
      bestBits = bits;
    }
  }
  return best;
}

export interface TileSection {
  key: string;
  label: string;
  ids: string[];
}

/**
 * The grid's sections: by client group (named groups by name, then "No group") or by network range (by CIDR order
 * as given, then "No range"); tiles in each by hostname. Empty sections are left out.
 */
export function sectionsOf(
  tiles: readonly Pick<Tile, 'id' | 'hostname' | 'groupId' | 'ipAddress'>[],
  by: 'group' | 'range',
  groups: readonly { id: string; name: string }[],
  ranges: readonly CidrRange[],
): TileSection[] {
  const sorted = [...tiles].sort((a, b) => a.hostname.localeCompare(b.hostname, undefined, { numeric: true }) || a.id.localeCompare(b.id));
  const sections = new Map<string, TileSection>();
  const order = by === 'group' ? [...groups].sort((a, b) => a.name.localeCompare(b.name)) : ranges;
  for (const o of order) sections.set(o.id, { key: o.id, label: by === 'group' ? o.name : `${o.name} (${(o as CidrRange).cidr})`, ids: [] });
  const none: TileSection = { key: 'none', label: by === 'group' ? 'No group' : 'No range', ids: [] };
  for (const t of sorted) {
    const key = by === 'group' ? t.groupId : (rangeOf(t.ipAddress, ranges)?.id ?? null);
    (key && sections.get(key) ? sections.get(key)! : none).ids.push(t.id);
  }
  return [...sections.values(), none].filter((s) => s.ids.length > 0);
}

/** Tiles per state, plus the disabled and pending ones (for the legend). */
export function countStates(tiles: Iterable<Pick<Tile, 'state' | 'enabled' | 'pending'>>): Record<RoomState | 'disabled' | 'pending', number> {
  const out = Object.fromEntries([...ROOM_STATES, 'disabled', 'pending'].map((s) => [s, 0])) as Record<RoomState | 'disabled' | 'pending', number>;
  for (const t of tiles) {
    out[t.state]++;
    if (!t.enabled) out.disabled++;
    if (t.pending) out.pending++;
  }
  return out;
}

// ---- selection ----

/** The ids from `a` to `b` inclusive in `order` (either direction); just `b` when `a` is not in it. */
export function rangeBetween(order: readonly string[], a: string | null, b: string): string[] {
  const j = order.indexOf(b);
  const i = a === null ? -1 : order.indexOf(a);
  if (j < 0) return [];
  if (i < 0) return [b];
  return order.slice(Math.min(i, j), Math.max(i, j) + 1);
}

/**
 * Boot time text: whole seconds as the API gives them ("3 s"), a fraction with one decimal ("12.3 s"), minutes
 * beyond 100 s. No decimal the number does not have.
 */
export function bootTimeText(seconds: number | null | undefined): string | null {
  if (seconds == null || !Number.isFinite(seconds) || seconds < 0) return null;
  if (seconds < 100) return Number.isInteger(seconds) ? `${seconds} s` : `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  return `${m} min ${Math.round(seconds - m * 60)} s`;
}
