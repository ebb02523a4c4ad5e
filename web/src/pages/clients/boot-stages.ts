/** Per-stage durations of a boot session from its stage timestamps (pure; unit-tested in boot-stages.spec.ts). */
import type { Schemas } from '../../api/client';

export type Stages = Schemas['BootSessionStagesDto'];

/** The stages in boot order; each segment is named by the stage it reaches. */
export const STAGES = [
  { key: 'dhcpAt', label: 'DHCP', color: 'gray.6' },
  { key: 'loaderAt', label: 'Loader (TFTP)', color: 'indigo.7' },
  { key: 'scriptAt', label: 'Boot script', color: 'cyan.8' },
  { key: 'iscsiLoginAt', label: 'iSCSI login', color: 'grape.7' },
  { key: 'runningAt', label: 'OS start', color: 'teal.8' },
] as const satisfies readonly { key: keyof Stages; label: string; color: string }[];

export interface Segment {
  key: keyof Stages;
  label: string;
  color: string;
  /** milliseconds from the previous reached stage (or the session start) to this one */
  ms: number;
}

const time = (iso: string | null | undefined) => (iso ? new Date(iso).getTime() : NaN);

/**
 * The time spent reaching each stage: from the session start (or the last stage reached before) to the stage's
 * timestamp. Stages never reached are left out; a clock step backwards counts as 0.
 */
export function stageSegments(startedAt: string, stages: Stages | null | undefined): Segment[] {
  if (!stages) return [];
  let prev = time(startedAt);
  const out: Segment[] = [];
  for (const s of STAGES) {
    const t = time(stages[s.key]);
    if (Number.isNaN(t)) continue;
    const ms = Number.isNaN(prev) ? 0 : Math.max(0, t - prev);
    out.push({ key: s.key, label: s.label, color: s.color, ms });
    prev = t;
  }
  return out;
}

/** The segments' total (start to the last stage reached). */
export const totalMs = (segments: readonly Segment[]) => segments.reduce((a, s) => a + s.ms, 0);
