import type { DlsEvent } from '../../events/types';
import { applyEvent, clientOfEvent, mergeTile, newerThanSnapshot, type RoomSnapshot, type Tile } from './room-state';

type Listener = () => void;

/** Events kept while no snapshot is loaded, replayed over it (those newer than the snapshot). */
const BUFFER_MAX = 5000;

/**
 * The Room's tiles and selection outside React: a Map of tiles with one subscriber list per tile, so a boot storm
 * re-renders only the tiles that changed, and at most once per animation frame (events update the Map at once; the
 * notifications wait for the next frame). `layout` listeners hear when the set of tiles or their grouping fields
 * (address, group) changed; `frame` listeners hear every flush (the legend's counts).
 */
export class RoomStore {
  private tiles = new Map<string, Tile>();
  private byIp = new Map<string, string>();
  private tileListeners = new Map<string, Set<Listener>>();
  private layoutListeners = new Set<Listener>();
  private frameListeners = new Set<Listener>();
  private dirty = new Set<string>();
  private layoutDirty = false;
  private frame: number | null = null;
  private buffered: DlsEvent[] = [];
  /** Bumped on every layout change (the list of tiles is a new array then). */
  layoutVersion = 0;
  frameVersion = 0;
  loaded = false;
  private list: Tile[] = [];

  // ---- selection ----
  private selected = new Set<string>();
  private selectionListeners = new Set<Listener>();
  selectionVersion = 0;
  anchor: string | null = null;
  focused: string | null = null;

  get(id: string): Tile | undefined {
    return this.tiles.get(id);
  }

  /** All tiles (a new array after each layout change). */
  all(): Tile[] {
    return this.list;
  }

  values(): IterableIterator<Tile> {
    return this.tiles.values();
  }

  subscribeTile(id: string, fn: Listener): () => void {
    let set = this.tileListeners.get(id);
    if (!set) this.tileListeners.set(id, (set = new Set()));
    set.add(fn);
    return () => {
      set.delete(fn);
      if (!set.size) this.tileListeners.delete(id);
    };
  }

  subscribeLayout(fn: Listener): () => void {
    this.layoutListeners.add(fn);
    return () => this.layoutListeners.delete(fn);
  }

  subscribeFrame(fn: Listener): () => void {
    this.frameListeners.add(fn);
    return () => this.frameListeners.delete(fn);
  }

  /** A (re)fetched snapshot: tiles merged ({@link mergeTile}), gone clients dropped, buffered newer events replayed. */
  setSnapshot(snap: RoomSnapshot): void {
    const seen = new Set<string>();
    for (const c of snap.clients) {
      seen.add(c.id);
      const prev = this.tiles.get(c.id);
      const next = mergeTile(prev, c, snap);
      if (next !== prev) this.put(prev, next);
    }
    for (const [id, t] of this.tiles) {
      if (!seen.has(id)) {
        this.tiles.delete(id);
        if (t.ipAddress && this.byIp.get(t.ipAddress) === id) this.byIp.delete(t.ipAddress);
        this.selected.delete(id);
        this.layoutDirty = true;
      }
    }
    if (!this.loaded) {
      this.loaded = true;
      this.layoutDirty = true;
      const replay = this.buffered.filter((e) => newerThanSnapshot({ eventId: e.id ?? null, eventAt: Date.parse(e.time) } as Tile, snap));
      this.buffered = [];
      replay.forEach((e) => this.applyEvent(e));
    }
    this.schedule();
  }

  applyEvent(e: DlsEvent): void {
    if (!this.loaded) {
      if (this.buffered.length < BUFFER_MAX) this.buffered.push(e);
      return;
    }
    const id = clientOfEvent(e, (ip) => this.byIp.get(ip));
    if (!id) return;
    const prev = this.tiles.get(id);
    if (!prev) return;
    const next = applyEvent(prev, e);
    if (next === prev) return;
    this.put(prev, next);
    this.schedule();
  }

  private put(prev: Tile | undefined, next: Tile): void {
    this.tiles.set(next.id, next);
    this.dirty.add(next.id);
    if (!prev || prev.ipAddress !== next.ipAddress || prev.groupId !== next.groupId || prev.hostname !== next.hostname) {
      if (prev?.ipAddress && this.byIp.get(prev.ipAddress) === prev.id) this.byIp.delete(prev.ipAddress);
      if (next.ipAddress) this.byIp.set(next.ipAddress, next.id);
      this.layoutDirty = true;
    }
  }

  private schedule(): void {
    if (this.frame !== null) return;
    const raf = typeof requestAnimationFrame === 'function' ? requestAnimationFrame : (f: () => void) => setTimeout(f, 16) as unknown as number;
    this.frame = raf(() => this.flush());
  }

  /** Notifies the changed tiles (and layout/frame listeners) now. */
  flush(): void {
    this.frame = null;
    const ids = [...this.dirty];
    this.dirty.clear();
    if (this.layoutDirty) {
      this.layoutDirty = false;
      this.list = [...this.tiles.values()];
      this.layoutVersion++;
      this.layoutListeners.forEach((fn) => fn());
    }
    for (const id of ids) this.tileListeners.get(id)?.forEach((fn) => fn());
    this.frameVersion++;
    this.frameListeners.forEach((fn) => fn());
  }

  // ---- selection ----

  isSelected(id: string): boolean {
    return this.selected.has(id);
  }

  selectedIds(): string[] {
    return [...this.selected].filter((id) => this.tiles.has(id));
  }

  subscribeSelection(fn: Listener): () => void {
    this.selectionListeners.add(fn);
    return () => this.selectionListeners.delete(fn);
  }

  /** Replaces the selection; only tiles whose selection changed are notified. */
  setSelection(ids: Iterable<string>): void {
    const next = new Set(ids);
    const changed: string[] = [];
    for (const id of this.selected) if (!next.has(id)) changed.push(id);
    for (const id of next) if (!this.selected.has(id)) changed.push(id);
    if (!changed.length) return;
    this.selected = next;
    this.selectionVersion++;
    for (const id of changed) this.tileListeners.get(id)?.forEach((fn) => fn());
    this.selectionListeners.forEach((fn) => fn());
  }

  toggle(id: string): void {
    const next = new Set(this.selected);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    this.setSelection(next);
  }

  /** Moves the roving focus (the one tile in the tab order). */
  setFocused(id: string | null): void {
    if (this.focused === id) return;
    const prev = this.focused;
    this.focused = id;
    for (const x of [prev, id]) if (x) this.tileListeners.get(x)?.forEach((fn) => fn());
  }

  dispose(): void {
    if (this.frame !== null && typeof cancelAnimationFrame === 'function') cancelAnimationFrame(this.frame);
    this.frame = null;
  }
}
