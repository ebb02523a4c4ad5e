/** Pure helpers of the Images and Storage pages (unit-tested in images-logic.spec.ts). */

export type DiskFormat = 'raw' | 'qcow2' | 'vhdx';

/** The disk format a file name suggests: .qcow2 / .vhdx, anything else raw (.img, .raw, .bin…). */
export function formatFromFileName(name: string): DiskFormat {
  const lower = name.toLowerCase();
  if (lower.endsWith('.qcow2') || lower.endsWith('.qcow')) return 'qcow2';
  if (lower.endsWith('.vhdx')) return 'vhdx';
  return 'raw';
}

/** A client named by a 409 (VERSION_IN_USE): with its id once the API gives it, by hostname alone before. */
export interface InUseClient {
  id?: string;
  hostname: string;
}

/**
 * The clients a 409's `details` names: `{ clients: [{ id, hostname }], count }`, or the older `{ clients: [hostname] }`.
 * `count` is the total (the list may be cut short); empty when the details name none.
 */
export function clientsInUse(details: Record<string, unknown> | undefined): { clients: InUseClient[]; count: number } {
  const raw = details?.clients;
  if (!Array.isArray(raw)) return { clients: [], count: 0 };
  const clients: InUseClient[] = [];
  for (const c of raw) {
    if (typeof c === 'string') clients.push({ hostname: c });
    else if (c && typeof c === 'object') {
      const o = c as { id?: unknown; hostname?: unknown };
      const hostname = typeof o.hostname === 'string' ? o.hostname : typeof o.id === 'string' ? o.id : '?';
      clients.push({ id: typeof o.id === 'string' ? o.id : undefined, hostname });
    }
  }
  const count = typeof details?.count === 'number' ? details.count : clients.length;
  return { clients, count: Math.max(count, clients.length) };
}

/** What the page shows of an upload and the import after it. */
export interface ContentProgress {
  /** bytes sent / total, while the browser sends the file (null before and without an upload) */
  sent: number | null;
  total: number | null;
  /** server-side import percent from `image.import` events (null before the first) */
  importPercent: number | null;
  phase: 'idle' | 'uploading' | 'importing' | 'done' | 'failed';
  error: string | null;
}

export const IDLE: ContentProgress = { sent: null, total: null, importPercent: null, phase: 'idle', error: null };

export type ContentAction =
  | { type: 'upload-start'; total: number }
  | { type: 'upload-progress'; sent: number; total: number }
  | { type: 'upload-sent' }
  | { type: 'import-event'; phase: 'started' | 'progress' | 'done' | 'failed'; percent: number | null; error: string | null }
  | { type: 'request-done' }
  | { type: 'request-failed'; error: string }
  | { type: 'reset' };

/**
 * Upload and import as one state: the browser's bytes-sent drive the first bar, `image.import` events the second.
 * Events may arrive before the upload's last onprogress, and the request's answer after the `done` event: a finished
 * or failed state is not undone by a late progress value.
 */
export function contentProgress(s: ContentProgress, a: ContentAction): ContentProgress {
  switch (a.type) {
    case 'upload-start':
      return { sent: 0, total: a.total, importPercent: null, phase: 'uploading', error: null };
    case 'upload-progress':
      if (s.phase === 'done' || s.phase === 'failed') return s;
      return { ...s, sent: Math.max(s.sent ?? 0, a.sent), total: a.total };
    case 'upload-sent':
      if (s.phase !== 'uploading') return s;
      return { ...s, sent: s.total, phase: 'importing' };
    case 'import-event':
      if (a.phase === 'failed') return { ...s, phase: 'failed', error: a.error ?? 'import failed' };
      if (a.phase === 'done') return { ...s, phase: 'done', importPercent: 100, error: null };
      if (s.phase === 'done' || s.phase === 'failed') return s;
      return {
        ...s,
        phase: s.phase === 'idle' ? 'importing' : s.phase,
        importPercent: a.percent == null ? s.importPercent : Math.max(s.importPercent ?? 0, a.percent),
      };
    case 'request-done':
      return { ...s, sent: s.total ?? s.sent, phase: 'done', importPercent: 100, error: null };
    case 'request-failed':
      return { ...s, phase: 'failed', error: a.error };
    case 'reset':
      return IDLE;
  }
}

/** Percent (0–100, one decimal) of `part` in `whole`; 0 for an empty whole. */
export function percentOf(part: number | null | undefined, whole: number | null | undefined): number {
  if (!whole || part == null) return 0;
  return Math.min(100, Math.max(0, Math.round((part / whole) * 1000) / 10));
}

/** One line each: how the storage driver makes client disks. */
export const CLONE_METHODS: Record<'zfs-clone' | 'reflink' | 'overlay' | 'copy', string> = {
  'zfs-clone': 'ZFS clone: each client disk is a copy-on-write clone of a version snapshot, instant and sharing all unchanged blocks.',
  reflink: 'Reflink: client disks are copy-on-write file copies (XFS/Btrfs), instant and sharing unchanged blocks.',
  overlay:
    'Overlay: each client disk is a qcow2 overlay over its version (served as a raw file by qemu-storage-daemon), instant and holding only what the client wrote.',
  copy: 'Full copy: the filesystem cannot share blocks, so each client disk is a whole copy of its version (slow, uses the full size).',
};

/**
 * The storage gauge, as percent of total: used, free (what DLS may still write), the rest (the filesystem's reserved
 * blocks, not available to DLS: used + free need not add up to total), and where DLS_STORAGE_MIN_FREE sits: free
 * space to the left of the marker can be used, the last `minFreeBytes` of it are kept free.
 */
export function storageGauge(s: { totalBytes: number; usedBytes: number; freeBytes: number; minFreeBytes: number }): {
  usedPct: number;
  freePct: number;
  unavailablePct: number;
  minFreePct: number;
  markerPct: number;
  belowMinFree: boolean;
} {
  const usedPct = percentOf(s.usedBytes, s.totalBytes);
  const freePct = percentOf(s.freeBytes, s.totalBytes);
  const minFreePct = percentOf(s.minFreeBytes, s.totalBytes);
  return {
    usedPct,
    freePct,
    unavailablePct: Math.max(0, Math.round((100 - usedPct - freePct) * 10) / 10),
    minFreePct,
    markerPct: Math.max(usedPct, Math.round((usedPct + freePct - minFreePct) * 10) / 10),
    belowMinFree: s.freeBytes < s.minFreeBytes,
  };
}

/** The `n` largest items by `size`, largest first (ties keep their order). */
export function topBy<T>(items: readonly T[], size: (t: T) => number, n: number): T[] {
  return items
    .map((t, i) => ({ t, i, s: size(t) }))
    .sort((a, b) => b.s - a.s || a.i - b.i)
    .slice(0, n)
    .map((x) => x.t);
}
