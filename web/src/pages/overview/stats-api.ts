/** GET /api/v1/boot-sessions/stats: the Overview's counts, boot-time histogram and stage medians. */
import { api, call, type Schemas } from '../../api/client';

export type BootStats = Schemas['BootSessionStatsDto'];
export type BootTimeBucket = Schemas['BootTimeBucketDto'];
export type StageMedians = Schemas['StageMediansDto'];

/** Boot statistics from `from` (ISO) until now. */
export function fetchStats(from: string): Promise<BootStats> {
  return call(api.GET('/api/v1/boot-sessions/stats', { params: { query: { from } } }));
}
