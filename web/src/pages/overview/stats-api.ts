/** GET /api/v1/boot-sessions/stats (being added on branch roomapi): local types until the generated ones exist. */
import { authFetch, ApiError } from '../../api/client';

export interface BootTimeBucket {
  upToSeconds: number | null;
  count: number;
}
export interface StageMedians {
  dhcpToLoaderMs: number | null;
  loaderToScriptMs: number | null;
  scriptToIscsiMs: number | null;
  iscsiToRunningMs: number | null;
  totalMs: number | null;
}
export interface BootStats {
  from: string;
  to: string;
  boots: number;
  running: number;
  errors: number;
  bootTime: { p50: number | null; p90: number | null; buckets: BootTimeBucket[] };
  stageMedians: StageMedians;
}

export async function fetchStats(from: string): Promise<BootStats> {
  const res = await authFetch(new Request(`/api/v1/boot-sessions/stats?from=${encodeURIComponent(from)}`));
  const body: unknown = await res.json().catch(() => null);
  if (!res.ok) throw ApiError.from(res.status, body);
  return body as BootStats;
}
