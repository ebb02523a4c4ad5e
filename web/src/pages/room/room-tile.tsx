import { memo, useSyncExternalStore } from 'react';
import { Link } from 'react-router';
import { bootTimeText, isBooting, type RoomState } from './room-state';
import type { RoomStore } from './room-store';

export const STATE_LABEL: Record<RoomState, string> = {
  off: 'Off',
  dhcp: 'DHCP',
  loader: 'Loader',
  script: 'Boot script',
  iscsi: 'iSCSI login',
  running: 'Running',
  error: 'Error',
  'disk-in-use': 'Disk in use',
};

/** One shared one-second clock for the elapsed time of booting tiles (only they subscribe). */
const clock = {
  now: Date.now(),
  listeners: new Set<() => void>(),
  timer: null as ReturnType<typeof setInterval> | null,
  subscribe: (fn: () => void): (() => void) => {
    clock.listeners.add(fn);
    clock.timer ??= setInterval(() => {
      clock.now = Date.now();
      clock.listeners.forEach((l) => l());
    }, 1000);
    return () => {
      clock.listeners.delete(fn);
      if (!clock.listeners.size && clock.timer) {
        clearInterval(clock.timer);
        clock.timer = null;
      }
    };
  },
};
const noSubscribe = () => () => undefined;

/**
 * One client of the Room. Reads its own tile, selection and focus from the store (so only changed tiles re-render);
 * pointer and keyboard handling is delegated to the grid (see room-page), found through `data-tile-id`.
 */
export const RoomTile = memo(function RoomTile({ id, store }: { id: string; store: RoomStore }) {
  const sub = (fn: () => void) => store.subscribeTile(id, fn);
  const t = useSyncExternalStore(sub, () => store.get(id));
  const selected = useSyncExternalStore(sub, () => store.isSelected(id));
  const focused = useSyncExternalStore(sub, () => store.focused === id);
  const booting = !!t && isBooting(t.state) && t.bootStartedAt !== null;
  const now = useSyncExternalStore(booting ? clock.subscribe : noSubscribe, () => (booting ? clock.now : 0));
  if (!t) return null;
  const last = bootTimeText(t.lastBootSeconds);
  const elapsed = booting ? bootTimeText(Math.max(0, (Math.max(now, Date.now() - 500) - t.bootStartedAt!) / 1000)) : null;
  const cls = ['room-tile', `room-s-${t.state}`, t.enabled ? '' : 'room-disabled', t.pending ? 'room-pending' : '', selected ? 'room-selected' : '']
    .filter(Boolean)
    .join(' ');
  return (
    <div
      role="gridcell"
      className={cls}
      data-tile-id={id}
      data-testid={`tile-${id}`}
      data-state={t.state}
      aria-selected={selected}
      tabIndex={focused ? 0 : -1}
    >
      <div className="room-tile-head">
        <Link to={`/clients/${id}`} tabIndex={-1} className="room-host" title={`Open ${t.hostname}`}>
          {t.hostname}
        </Link>
        <span className="room-state-label">{STATE_LABEL[t.state]}</span>
      </div>
      <div className="room-line" title={t.imageName ?? undefined}>
        {t.imageName ?? 'no image'}
        {t.versionLabel ? ` · ${t.versionLabel}` : ''}
      </div>
      <div className="room-line">{t.ipAddress ?? 'no address'}</div>
      <div className="room-line room-foot">
        {elapsed ? (
          <span data-testid="boot-elapsed">booting {elapsed}</span>
        ) : last ? (
          <span data-testid="boot-time" title="last boot time">
            {last}
          </span>
        ) : (
          <span>&nbsp;</span>
        )}
        {!t.enabled && <span className="room-flag">disabled</span>}
        {t.pending && <span className="room-flag">pending</span>}
        {selected && <span className="room-flag">✓</span>}
      </div>
    </div>
  );
});
