import { stageSegments, totalMs } from './boot-stages';

const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 8, 0, 0) + s * 1000).toISOString();
const none = { dhcpAt: null, loaderAt: null, scriptAt: null, iscsiLoginAt: null, runningAt: null };

describe('boot stage durations', () => {
  it('measures each stage from the previous one, starting at the session start', () => {
    const segs = stageSegments(at(0), { dhcpAt: at(0), loaderAt: at(1.5), scriptAt: at(2), iscsiLoginAt: at(6), runningAt: at(36) });
    expect(segs.map((s) => [s.key, s.ms])).toEqual([
      ['dhcpAt', 0],
      ['loaderAt', 1500],
      ['scriptAt', 500],
      ['iscsiLoginAt', 4000],
      ['runningAt', 30000],
    ]);
    expect(totalMs(segs)).toBe(36000);
  });

  it('skips stages not reached: the next one counts from the last reached', () => {
    const segs = stageSegments(at(0), { ...none, dhcpAt: at(1), iscsiLoginAt: at(10) });
    expect(segs.map((s) => [s.label, s.ms])).toEqual([
      ['DHCP', 1000],
      ['iSCSI login', 9000],
    ]);
  });

  it('is empty without stages and never negative', () => {
    expect(stageSegments(at(0), undefined)).toEqual([]);
    expect(stageSegments(at(0), none)).toEqual([]);
    expect(stageSegments(at(5), { ...none, dhcpAt: at(4) })[0].ms).toBe(0);
  });
});
