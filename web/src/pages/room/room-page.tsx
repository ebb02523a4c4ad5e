import { Alert, Group, Loader, SegmentedControl, Stack, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useEffect, useLayoutEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import { useNavigate } from 'react-router';
import { api, call, type Schemas } from '../../api/client';
import { Can } from '../../auth/auth';
import { events } from '../../events/stream';
import type { DlsEvent } from '../../events/types';
import { RoomActions } from './room-actions';
import { countStates, rangeBetween, ROOM_STATES, sectionsOf, type TileSection } from './room-state';
import { RoomStore } from './room-store';
import { RoomTile, STATE_LABEL } from './room-tile';
import './room.css';

const LIVE_TYPES = ['dhcp', 'tftp', 'boot-file', 'boot-script', 'iscsi.login', 'iscsi.logout', 'boot-session'] as const;

/** Every page of a paged list (limit 500 per call). */
async function allPages<T>(get: (offset: number) => Promise<{ total: number; items: T[] }>): Promise<T[]> {
  const out: T[] = [];
  for (;;) {
    const page = await get(out.length);
    out.push(...page.items);
    if (!page.items.length || out.length >= page.total) return out;
  }
}

export function useGroups() {
  return useQuery({
    queryKey: ['client-groups', 'all'],
    queryFn: () =>
      allPages<Schemas['ClientGroupResponseDto']>((offset) => call(api.GET('/api/v1/client-groups', { params: { query: { limit: 500, offset } } }))),
  });
}

function useRanges() {
  return useQuery({
    queryKey: ['network-ranges', 'all'],
    queryFn: () =>
      allPages<Schemas['NetworkRangeResponseDto']>((offset) =>
        call(api.GET('/api/v1/network-ranges', { params: { query: { limit: 500, offset } } })),
      ),
  });
}

/**
 * The landing page: every client as a tile, grouped by client group or network range, coloured by its live boot
 * stage. The `GET /room` snapshot seeds a {@link RoomStore}; boot-plane events move the tiles in between (rendered
 * per animation frame, only the tiles that changed); a refetched snapshot (after a `change`) merges in.
 */
export default function RoomPage() {
  const store = useMemo(() => new RoomStore(), []);
  const [by, setBy] = useState<'group' | 'range'>('group');
  const room = useQuery({
    queryKey: ['room'],
    queryFn: () => call(api.GET('/api/v1/room')),
  });
  const groups = useGroups();
  const ranges = useRanges();

  useEffect(() => {
    const off = events.on([...LIVE_TYPES], (e) => store.applyEvent(e as DlsEvent));
    return () => {
      off();
      store.dispose();
    };
  }, [store]);

  useEffect(() => {
    if (room.data) store.setSnapshot(room.data);
  }, [room.data, store]);

  const layoutVersion = useSyncExternalStore(
    (fn) => store.subscribeLayout(fn),
    () => store.layoutVersion,
  );
  const sections = useMemo(
    () => sectionsOf(store.all(), by, groups.data ?? [], ranges.data ?? []),
    [layoutVersion, by, groups.data, ranges.data, store],
  );

  return (
    <Stack gap="sm">
      <Group justify="space-between" align="center">
        <Title order={2}>Room</Title>
        <SegmentedControl
          aria-label="Group tiles by"
          value={by}
          onChange={(v) => setBy(v as 'group' | 'range')}
          styles={{ label: { color: 'var(--mantine-color-gray-8)' } }}
          data={[
            { value: 'group', label: 'By group' },
            { value: 'range', label: 'By network range' },
          ]}
        />
      </Group>
      <Legend store={store} />
      <Can role="operator">
        <RoomActions store={store} groups={groups.data ?? []} />
      </Can>
      {room.error ? (
        <Alert color="red" title="Could not load the room">
          {room.error.message}
        </Alert>
      ) : !room.data ? (
        <Loader aria-label="Loading the room" />
      ) : (
        <RoomGrid store={store} sections={sections} ready={store.loaded && layoutVersion > 0} />
      )}
    </Stack>
  );
}

function Legend({ store }: { store: RoomStore }) {
  const version = useSyncExternalStore(
    (fn) => store.subscribeFrame(fn),
    () => store.frameVersion,
  );
  const counts = useMemo(() => countStates(store.values()), [version, store]);
  const total = store.all().length;
  return (
    <div className="room-legend" aria-label="Legend" role="group">
      <span>
        <strong>{total}</strong> clients:
      </span>
      {ROOM_STATES.map((s) => (
        <span key={s} className="room-legend-item" data-testid={`legend-${s}`}>
          <span className={`room-swatch room-s-${s}`} aria-hidden="true" />
          {STATE_LABEL[s]} <strong>{counts[s]}</strong>
        </span>
      ))}
      <span className="room-legend-item" data-testid="legend-disabled">
        <span className="room-swatch room-s-off room-disabled" aria-hidden="true" />
        Disabled <strong>{counts.disabled}</strong>
      </span>
      <span className="room-legend-item" data-testid="legend-pending">
        <span className="room-swatch room-s-off room-pending" aria-hidden="true" />
        Pending <strong>{counts.pending}</strong>
      </span>
    </div>
  );
}

const tileIdOf = (el: EventTarget | null): string | null =>
  el instanceof Element ? (el.closest('[data-tile-id]')?.getAttribute('data-tile-id') ?? null) : null;

/** The tile from `cur` in direction `key`, by the tiles' positions on screen (rows wrap with the window). */
function neighbour(area: HTMLElement, order: readonly string[], cur: string, key: string): string | null {
  const i = order.indexOf(cur);
  if (i < 0) return order[0] ?? null;
  if (key === 'ArrowLeft') return order[Math.max(0, i - 1)];
  if (key === 'ArrowRight') return order[Math.min(order.length - 1, i + 1)];
  if (key === 'Home') return order[0];
  if (key === 'End') return order[order.length - 1];
  const rectOf = (id: string) => area.querySelector(`[data-tile-id="${id}"]`)?.getBoundingClientRect();
  const r = rectOf(cur);
  if (!r) return cur;
  const cx = r.left + r.width / 2;
  const down = key === 'ArrowDown';
  let best: string | null = null;
  let bestRow = Infinity;
  let bestDx = Infinity;
  // Walk away from the current tile; stop after the first row in that direction.
  for (let j = i + (down ? 1 : -1); j >= 0 && j < order.length; j += down ? 1 : -1) {
    const q = rectOf(order[j]);
    if (!q) continue;
    const dy = down ? q.top - r.bottom : r.top - q.bottom;
    if (dy < -1) continue;
    if (dy > bestRow + 1) break;
    const dx = Math.abs(q.left + q.width / 2 - cx);
    if (dy < bestRow - 1 || dx < bestDx) {
      best = order[j];
      bestRow = Math.min(bestRow, dy);
      bestDx = dx;
    }
  }
  return best ?? cur;
}

function RoomGrid({ store, sections, ready }: { store: RoomStore; sections: TileSection[]; ready: boolean }) {
  const areaRef = useRef<HTMLDivElement>(null);
  const boxRef = useRef<HTMLDivElement>(null);
  const navigate = useNavigate();
  const order = useMemo(() => sections.flatMap((s) => s.ids), [sections]);
  const orderRef = useRef(order);
  orderRef.current = order;
  const [rendered, setRendered] = useState(false);

  // Some tile must be in the tab order: the focused one if it still exists, else the first.
  useLayoutEffect(() => {
    if (!store.focused || !order.includes(store.focused)) store.setFocused(order[0] ?? null);
    setRendered(ready);
  }, [order, ready, store]);

  const focusTile = (id: string | null) => {
    if (!id) return;
    store.setFocused(id);
    areaRef.current?.querySelector<HTMLElement>(`[data-tile-id="${id}"]`)?.focus();
  };

  const onClick = (e: React.MouseEvent) => {
    const id = tileIdOf(e.target);
    if (!id) return;
    if ((e.target as Element).closest('a')) return; // the hostname link opens the client page
    if (e.shiftKey) {
      const range = rangeBetween(order, store.anchor ?? id, id);
      store.setSelection(e.ctrlKey || e.metaKey ? [...store.selectedIds(), ...range] : range);
    } else if (e.ctrlKey || e.metaKey) {
      store.toggle(id);
      store.anchor = id;
    } else {
      store.setSelection([id]);
      store.anchor = id;
    }
    focusTile(id);
  };

  const onKeyDown = (e: React.KeyboardEvent) => {
    const id = tileIdOf(e.target);
    if (!id) return;
    const k = e.key;
    if (k === 'ArrowLeft' || k === 'ArrowRight' || k === 'ArrowUp' || k === 'ArrowDown' || k === 'Home' || k === 'End') {
      e.preventDefault();
      const next = neighbour(areaRef.current!, order, id, k);
      if (!next) return;
      if (e.shiftKey) {
        store.anchor ??= id;
        store.setSelection(rangeBetween(order, store.anchor, next));
      }
      focusTile(next);
    } else if (k === ' ' || k === 'Enter') {
      e.preventDefault();
      store.toggle(id);
      store.anchor = id;
    } else if ((k === 'a' || k === 'A') && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      store.setSelection(order);
    } else if (k === 'Escape') {
      e.preventDefault();
      store.setSelection([]);
      store.anchor = null;
    } else if ((k === 'o' || k === 'O') && !e.ctrlKey && !e.metaKey && !e.altKey) {
      e.preventDefault();
      void navigate(`/clients/${id}`);
    }
  };

  // Box selection: drag a rectangle from the grid's background.
  const onPointerDown = (e: React.PointerEvent) => {
    if (e.button !== 0 || tileIdOf(e.target) || (e.target as Element).closest('a,button,input,h3')) return;
    const area = areaRef.current!;
    const box = boxRef.current!;
    const origin = area.getBoundingClientRect();
    const x0 = e.clientX;
    const y0 = e.clientY;
    const base = e.shiftKey || e.ctrlKey || e.metaKey ? store.selectedIds() : [];
    const rects = [...area.querySelectorAll<HTMLElement>('[data-tile-id]')].map((el) => ({
      id: el.dataset.tileId!,
      r: el.getBoundingClientRect(),
    }));
    let moved = false;
    const move = (ev: PointerEvent) => {
      const [l, r] = [Math.min(x0, ev.clientX), Math.max(x0, ev.clientX)];
      const [t, b] = [Math.min(y0, ev.clientY), Math.max(y0, ev.clientY)];
      if (!moved && r - l < 4 && b - t < 4) return;
      moved = true;
      Object.assign(box.style, {
        display: 'block',
        left: `${l - origin.left}px`,
        top: `${t - origin.top}px`,
        width: `${r - l}px`,
        height: `${b - t}px`,
      });
      const hits = rects.filter(({ r: q }) => q.left < r && q.right > l && q.top < b && q.bottom > t).map((h) => h.id);
      store.setSelection([...base, ...hits]);
    };
    const up = () => {
      window.removeEventListener('pointermove', move);
      window.removeEventListener('pointerup', up);
      box.style.display = 'none';
      if (!moved && !base.length) store.setSelection([]);
    };
    window.addEventListener('pointermove', move);
    window.addEventListener('pointerup', up);
  };

  return (
    <div
      ref={areaRef}
      className="room-area"
      data-testid="room-grid"
      data-ready={rendered ? 'true' : 'false'}
      data-count={order.length}
      onClick={onClick}
      onKeyDown={onKeyDown}
      onPointerDown={onPointerDown}
      onFocus={(e) => {
        const id = tileIdOf(e.target);
        if (id) store.setFocused(id);
      }}
    >
      <Text size="xs" c="gray.7">
        Click selects, Shift+click a range, Ctrl+click toggles; drag on the background to select a box. Keys: arrows move, Space or Enter toggles,
        Shift+arrows extend, Ctrl+A all, Escape clears, O opens the client.
      </Text>
      {!order.length && <Text>No clients registered yet.</Text>}
      {sections.map((s) => (
        <section key={s.key} className="room-section" aria-labelledby={`room-h-${s.key}`}>
          <h3 id={`room-h-${s.key}`}>
            {s.label}{' '}
            <Text span size="sm" c="gray.7">
              ({s.ids.length})
            </Text>
          </h3>
          <div role="grid" aria-multiselectable="true" aria-labelledby={`room-h-${s.key}`}>
            <div role="row" className="room-row">
              {s.ids.map((id) => (
                <RoomTile key={id} id={id} store={store} />
              ))}
            </div>
          </div>
        </section>
      ))}
      <div ref={boxRef} className="room-box" aria-hidden="true" />
    </div>
  );
}
