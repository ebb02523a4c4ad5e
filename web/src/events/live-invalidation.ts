import type { QueryClient } from '@tanstack/react-query';
import { events } from './stream';

/**
 * Keeps every page's data current without polling: a `change` event (any successful write through the API, by
 * anyone) invalidates the queries of that kind of record (query keys start with the API's entity type: 'clients',
 * 'images', …), batched per animation-free 200 ms window; `reset`/`dropped` (the stream lost events) invalidate all.
 * Boot-plane events update the pages that show them directly (Room, Overview) and also refresh client/session data.
 */
export function startLiveInvalidation(qc: QueryClient): () => void {
  const pending = new Set<string>();
  let timer: ReturnType<typeof setTimeout> | null = null;
  const flush = () => {
    timer = null;
    for (const key of pending) void qc.invalidateQueries({ queryKey: [key] });
    pending.clear();
  };
  const mark = (...keys: string[]) => {
    keys.forEach((k) => pending.add(k));
    timer ??= setTimeout(flush, 200);
  };
  const offs = [
    events.on('change', (e) => {
      const type = e.body.entityType;
      mark(type);
      // Records other pages show derived values of.
      if (type === 'clients' || type === 'client-groups' || type === 'images') mark('room', 'clients', 'storage');
      if (type === 'snapshots') mark('images');
      if (type === 'network-ranges') mark('leases', 'utilisation');
      if (type === 'boot-sessions') mark('stats');
    }),
    events.on(['boot-session'], () => mark('boot-sessions', 'stats')),
    events.on(['dhcp'], () => mark('leases', 'utilisation')),
    events.on(['image.import', 'version.published'], () => mark('images', 'snapshots', 'storage')),
    events.on('storage.alert', () => mark('storage')),
    events.on('range.holder', () => mark('nodes')),
    events.on('version.replica', () => mark('nodes')),
    events.on('audit', () => mark('audit')),
    events.on(['reset', 'dropped'], () => void qc.invalidateQueries()),
  ];
  return () => {
    offs.forEach((off) => off());
    if (timer) clearTimeout(timer);
  };
}
