/** Pure derivations of the Overview page: the live feed's lines and buffer, histogram labels, stage medians, gauge. */
import type { Schemas } from '../../api/client';
import type { DlsEvent, EventBodies, EventType } from '../../events/types';
import { formatBytes, formatMs, formatSeconds } from '../../lib/format';
import type { BootTimeBucket, StageMedians } from './stats-api';

/** How many events the live feed keeps (newest first). */
export const FEED_CAP = 100;

export interface FeedLine {
  /** Unique per line (the event id, or a local counter for control messages). */
  key: string;
  time: string;
  type: EventType;
  summary: string;
}

const short = (id: string | null | undefined) => (id ? id.slice(0, 8) : '—');

/** One short, human line per event type. */
export function summarize(e: DlsEvent): string {
  const b = e.body;
  switch (e.type) {
    case 'boot-session': {
      const s = b as EventBodies['boot-session'];
      const who = s.clientIp ?? `client ${short(s.clientId)}`;
      const move = s.previousStatus ? `${s.previousStatus} → ${s.status}` : s.status;
      const extra = s.error
        ? `: ${s.error}`
        : s.reason
          ? ` (${s.reason})`
          : s.status === 'running' && s.bootTimeSeconds != null
            ? ` in ${formatSeconds(s.bootTimeSeconds)}`
            : '';
      return `${who} ${move}${extra}`;
    }
    case 'dhcp': {
      const d = b as EventBodies['dhcp'];
      const reply = d.reply ? `${d.reply}${d.ip ? ` ${d.ip}` : ''}` : 'no reply';
      return `${d.message} from ${d.mac} on ${d.range} → ${reply}${d.proxy ? ' (proxy)' : ''}${d.reason ? ` (${d.reason})` : ''}`;
    }
    case 'tftp': {
      const t = b as EventBodies['tftp'];
      return t.ok
        ? `${t.file} to ${t.clientIp}: ${formatBytes(t.bytes)} in ${formatMs(t.durationMs)}`
        : `${t.file} to ${t.clientIp} failed: ${t.error ?? 'error'}`;
    }
    case 'boot-file': {
      const f = b as EventBodies['boot-file'];
      return `${f.file} over HTTP to ${f.clientIp}: ${formatBytes(f.bytes)} in ${formatMs(f.durationMs)}`;
    }
    case 'boot-script': {
      const s = b as EventBodies['boot-script'];
      return `script ${s.outcome} for ${s.mac ?? s.clientIp ?? 'unknown client'}${s.reason ? ` (${s.reason})` : ''}`;
    }
    case 'iscsi.login':
    case 'iscsi.logout': {
      const s = b as EventBodies['iscsi.login'];
      return `${s.ip ?? `client ${short(s.clientId)}`} ${e.type === 'iscsi.login' ? 'logged in' : 'logged out'}`;
    }
    case 'image.import': {
      const i = b as EventBodies['image.import'];
      const pct = i.phase === 'progress' && i.percent != null ? ` ${Math.round(i.percent)}%` : '';
      return `import of ${i.name} ${i.phase}${pct}${i.error ? `: ${i.error}` : ''}`;
    }
    case 'version.published': {
      const v = b as EventBodies['version.published'];
      return `${v.name} published (image ${short(v.imageId)})`;
    }
    case 'storage.alert':
      return (b as EventBodies['storage.alert']).message;
    case 'wake': {
      const w = b as EventBodies['wake'];
      return `wake (${w.trigger}): ${w.sent} of ${w.total} sent${w.failed ? `, ${w.failed} failed` : ''}`;
    }
    case 'range.holder': {
      const r = b as EventBodies['range.holder'];
      const what = r.action === 'taken' ? 'now serves' : r.action === 'handed-back' ? 'handed back' : 'lost its hold on';
      return `node ${r.node} ${what} range ${r.range ?? short(r.rangeId)}`;
    }
    case 'version.replica': {
      const r = b as EventBodies['version.replica'];
      const what = r.state === 'copying' ? 'is copying' : r.state === 'verified' ? 'verified its copy of' : 'failed to copy';
      return `node ${r.node} ${what} ${r.image} ${r.version}${r.sourceNode ? ` from ${r.sourceNode}` : ''}${r.error ? `: ${r.error}` : ''}`;
    }
    case 'audit': {
      const a = b as EventBodies['audit'];
      return `${a.username ?? 'system'}: ${a.action}${a.entityId ? ` ${short(a.entityId)}` : ''}${a.statusCode != null ? ` → ${a.statusCode}` : ''}`;
    }
    case 'change': {
      const c = b as EventBodies['change'];
      return `${c.action}${c.entityId ? ` ${short(c.entityId)}` : ''}`;
    }
    case 'reset':
    case 'dropped':
      return `stream ${e.type}: ${(b as EventBodies['reset']).reason}`;
    default:
      return '';
  }
}

let localKey = 0;

export function toLine(e: DlsEvent): FeedLine {
  return { key: e.id ?? `local-${++localKey}`, time: e.time, type: e.type, summary: summarize(e) };
}

/**
 * Prepends `incoming` (oldest first, as received) to `lines` (newest first), keeping at most `cap` lines. Never
 * copies more than `cap` entries, so a burst of thousands of events costs no more than one full feed.
 */
export function prependCapped(lines: readonly FeedLine[], incoming: readonly FeedLine[], cap = FEED_CAP): FeedLine[] {
  const out: FeedLine[] = [];
  for (let i = incoming.length - 1; i >= 0 && out.length < cap; i--) out.push(incoming[i]);
  for (let i = 0; i < lines.length && out.length < cap; i++) out.push(lines[i]);
  return out;
}

/** Local midnight of the day of `now`, as an ISO string (the start of "today" for the stats). */
export function startOfToday(now = new Date()): string {
  return new Date(now.getFullYear(), now.getMonth(), now.getDate()).toISOString();
}

/** Labels of the histogram's buckets: "≤ 5 s", "5–10 s", …, "> 180 s". */
export function bucketLabels(buckets: readonly BootTimeBucket[]): string[] {
  return buckets.map((b, i) => {
    const prev = i > 0 ? buckets[i - 1].upToSeconds : null;
    if (b.upToSeconds == null) return prev == null ? 'all' : `> ${prev} s`;
    return prev == null ? `≤ ${b.upToSeconds} s` : `${prev}–${b.upToSeconds} s`;
  });
}

export const STAGES: readonly { key: keyof StageMedians; label: string }[] = [
  { key: 'dhcpToLoaderMs', label: 'DHCP → loader' },
  { key: 'loaderToScriptMs', label: 'Loader → script' },
  { key: 'scriptToIscsiMs', label: 'Script → iSCSI login' },
  { key: 'iscsiToRunningMs', label: 'iSCSI → running' },
  { key: 'totalMs', label: 'Total' },
];

export interface Gauge {
  usedPct: number;
  freePct: number;
  /** Where the free space reaches the minimum (percent from the left: used + free − minFree), null without a total. */
  minFreeAtPct: number | null;
  belowMinFree: boolean;
}

/** The storage gauge's geometry: used and free as percentages of the total, and where the min-free line falls. */
export function storageGauge(s: Pick<Schemas['StorageStatusDto'], 'totalBytes' | 'usedBytes' | 'freeBytes' | 'minFreeBytes'>): Gauge {
  const total = s.totalBytes > 0 ? s.totalBytes : 0;
  const pct = (n: number) => (total ? Math.min(100, Math.max(0, (n / total) * 100)) : 0);
  return {
    usedPct: pct(s.usedBytes),
    freePct: pct(s.freeBytes),
    minFreeAtPct: total ? 100 - pct(s.minFreeBytes) : null,
    belowMinFree: s.freeBytes < s.minFreeBytes,
  };
}
