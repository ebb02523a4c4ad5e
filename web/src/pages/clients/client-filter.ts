/**
 * In-memory filtering and sorting of the clients table (pure; unit-tested in client-filter.spec.ts).
 *
 * The page loads every client once (see use-all-clients.ts) and derives rows here, so a keystroke in the search box
 * costs one pass over a pre-sorted, pre-lowercased array instead of a round trip: `indexClients` runs when the data
 * (or the image/group names) change, `sortIndex` when the sort changes, `filterIndex` on every keystroke.
 */
import type { Schemas } from '../../api/client';

export type Client = Schemas['ClientResponseDto'];

export type PendingFilter = 'any' | 'pending' | 'registered';

export interface ClientFilter {
  /** hostname prefix (any case), MAC prefix (any case, `-` or `:`), or effective image name prefix */
  q: string;
  /** a group id, `'none'` for clients without a group, or null for any */
  groupId: string | null;
  /** an effective image id, `'none'` for clients that boot nothing, or null for any */
  imageId: string | null;
  enabledOnly: boolean;
  pending: PendingFilter;
}

export const NO_FILTER: ClientFilter = { q: '', groupId: null, imageId: null, enabledOnly: false, pending: 'any' };

export type SortKey = 'hostname' | 'macAddress' | 'ipAddress' | 'group' | 'image' | 'enabled' | 'pending' | 'diskPolicy' | 'lastBootAt' | 'bootCount';

export interface SortSpec {
  id: SortKey;
  desc: boolean;
}

/** One client with what the filter and the sort compare, computed once per data change. */
export interface IndexedClient {
  client: Client;
  hostname: string;
  mac: string;
  imageName: string;
  groupName: string;
  imageId: string | null;
  ipNum: number;
}

export interface Names {
  images: ReadonlyMap<string, string>;
  groups: ReadonlyMap<string, string>;
}

/** The image a client boots: its own, else its group's (`effective.imageId`). */
export const effectiveImageId = (c: Client): string | null => c.effective?.imageId?.value ?? null;

/** The disk policy in force (own, group's, else null meaning "the image's default"). */
export const effectiveDiskPolicy = (c: Client): string | null => c.effective?.diskPolicy?.value ?? null;

/** `a.b.c.d` as a number for sorting (NaN-free: missing or non-IPv4 sort last). */
export function ipToNumber(ip: string | null | undefined): number {
  if (!ip) return Number.POSITIVE_INFINITY;
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ip);
  if (!m) return Number.POSITIVE_INFINITY - 1;
  return ((+m[1] * 256 + +m[2]) * 256 + +m[3]) * 256 + +m[4];
}

/** MACs are compared lower-case with `:` (the API's canonical form); a typed `-` or `.` means the same. */
export const normaliseMacQuery = (q: string) => q.toLowerCase().replace(/-/g, ':');

export function indexClients(clients: readonly Client[], names: Names): IndexedClient[] {
  return clients.map((client) => {
    const imageId = effectiveImageId(client);
    return {
      client,
      hostname: client.hostname.toLowerCase(),
      mac: client.macAddress.toLowerCase(),
      imageName: imageId ? (names.images.get(imageId) ?? '').toLowerCase() : '',
      groupName: client.groupId ? (names.groups.get(client.groupId) ?? '').toLowerCase() : '',
      imageId,
      ipNum: ipToNumber(client.ipAddress),
    };
  });
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
/** Empty text sorts after everything (either direction keeps the blanks last). */
const textKey = (a: string, b: string, dir: number) => (a === b ? 0 : !a ? 1 : !b ? -1 : dir * byText(a, b));

function compare(a: IndexedClient, b: IndexedClient, key: SortKey, dir: number): number {
  switch (key) {
    case 'hostname':
      return dir * byText(a.hostname, b.hostname);
    case 'macAddress':
      return dir * byText(a.mac, b.mac);
    case 'ipAddress':
      return a.ipNum === b.ipNum ? 0 : !Number.isFinite(a.ipNum) ? 1 : !Number.isFinite(b.ipNum) ? -1 : dir * (a.ipNum - b.ipNum);
    case 'group':
      return textKey(a.groupName, b.groupName, dir);
    case 'image':
      return textKey(a.imageName, b.imageName, dir);
    case 'enabled':
      return dir * (Number(a.client.enabled) - Number(b.client.enabled));
    case 'pending':
      return dir * (Number(a.client.pending) - Number(b.client.pending));
    case 'diskPolicy':
      return textKey(effectiveDiskPolicy(a.client) ?? '', effectiveDiskPolicy(b.client) ?? '', dir);
    case 'lastBootAt':
      return textKey(a.client.lastBootAt ?? '', b.client.lastBootAt ?? '', dir);
    case 'bootCount':
      return dir * (a.client.bootCount - b.client.bootCount);
  }
}

/** A sorted copy (stable; ties broken by hostname ascending, then MAC). */
export function sortIndex(rows: readonly IndexedClient[], sort: SortSpec | null): IndexedClient[] {
  const key = sort?.id ?? 'hostname';
  const dir = sort?.desc ? -1 : 1;
  return [...rows].sort((a, b) => compare(a, b, key, dir) || byText(a.hostname, b.hostname) || byText(a.mac, b.mac));
}

/** The rows matching every condition, in the order given (filtering keeps a sorted array sorted). */
export function filterIndex(rows: readonly IndexedClient[], f: ClientFilter): Client[] {
  const q = f.q.trim().toLowerCase();
  const qMac = normaliseMacQuery(q);
  const out: Client[] = [];
  for (const r of rows) {
    const c = r.client;
    if (f.enabledOnly && !c.enabled) continue;
    if (f.pending === 'pending' && !c.pending) continue;
    if (f.pending === 'registered' && c.pending) continue;
    if (f.groupId !== null && (f.groupId === 'none' ? c.groupId != null : c.groupId !== f.groupId)) continue;
    if (f.imageId !== null && (f.imageId === 'none' ? r.imageId !== null : r.imageId !== f.imageId)) continue;
    if (q && !(r.hostname.startsWith(q) || r.mac.startsWith(qMac) || (r.imageName !== '' && r.imageName.startsWith(q)))) continue;
    out.push(c);
  }
  return out;
}
