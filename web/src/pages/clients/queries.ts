/**
 * The data the clients pages share. Strategy for the table: every client is loaded once into the query cache (pages
 * of 500, the API's maximum, four requests at a time: 10,000 clients are 20 requests) and filtered and sorted in
 * memory, so a keystroke updates the rows without a round trip. The cache entry is refreshed when a `change` event
 * for clients (or groups or images, whose names and settings the rows show) invalidates `['clients']`.
 */
import { useQuery } from '@tanstack/react-query';
import { useMemo } from 'react';
import { api, call, type Schemas } from '../../api/client';

export type Client = Schemas['ClientResponseDto'];
export type Image = Schemas['ImageResponseDto'];
export type Group = Schemas['ClientGroupResponseDto'];
export type Snapshot = Schemas['SnapshotResponseDto'];

export const PAGE = 500;
const PARALLEL = 4;

/** Every page of a list endpoint: the first tells the total, the rest are fetched `PARALLEL` at a time. */
export async function fetchAllPages<T extends { id: string }>(
  get: (limit: number, offset: number) => Promise<{ total: number; items: T[] }>,
): Promise<T[]> {
  const first = await get(PAGE, 0);
  const offsets: number[] = [];
  for (let o = PAGE; o < first.total; o += PAGE) offsets.push(o);
  const pages: T[][] = [first.items];
  for (let i = 0; i < offsets.length; i += PARALLEL) {
    const got = await Promise.all(offsets.slice(i, i + PARALLEL).map((o) => get(PAGE, o)));
    pages.push(...got.map((p) => p.items));
  }
  // A write between two pages can shift rows: keep each record once.
  const byId = new Map<string, T>();
  for (const page of pages) for (const item of page) byId.set(item.id, item);
  return [...byId.values()];
}

export const allClientsKey = ['clients', 'all'] as const;

export function useAllClients() {
  return useQuery({
    queryKey: allClientsKey,
    queryFn: () => fetchAllPages((limit, offset) => call(api.GET('/api/v1/clients', { params: { query: { limit, offset, sort: 'hostname' } } }))),
  });
}

export function useImages() {
  return useQuery({
    queryKey: ['images', 'all'],
    queryFn: () => fetchAllPages((limit, offset) => call(api.GET('/api/v1/images', { params: { query: { limit, offset, sort: 'name' } } }))),
  });
}

export function useGroups() {
  return useQuery({
    queryKey: ['client-groups', 'all'],
    queryFn: () => fetchAllPages((limit, offset) => call(api.GET('/api/v1/client-groups', { params: { query: { limit, offset, sort: 'name' } } }))),
  });
}

export function useSnapshots(imageId: string | null | undefined) {
  return useQuery({
    queryKey: ['snapshots', imageId],
    enabled: !!imageId,
    queryFn: () =>
      fetchAllPages((limit, offset) =>
        call(api.GET('/api/v1/images/{imageId}/snapshots', { params: { path: { imageId: imageId! }, query: { limit, offset } } })),
      ),
  });
}

/** id → name maps for images and groups (empty while loading). */
export function useNames() {
  const images = useImages();
  const groups = useGroups();
  return useMemo(
    () => ({
      images: new Map((images.data ?? []).map((i) => [i.id, i.name])),
      groups: new Map((groups.data ?? []).map((g) => [g.id, g.name])),
      imageList: images.data ?? [],
      groupList: groups.data ?? [],
    }),
    [images.data, groups.data],
  );
}
