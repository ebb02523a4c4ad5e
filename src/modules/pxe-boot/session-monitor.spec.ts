import { Logger } from '@nestjs/common';
import type { AppConfig } from '@config/config.loader';
import type { BootSession, BootSessionsService } from '../catalog';
import { BootSessionTracker, MonitorAction } from './boot-session-tracker';
import { RecentLogins } from './recent-logins';
import { decideSessionAction, SessionMonitor } from './session-monitor';
import { FakeIscsi } from './testing/fake-boot-plane';

const cfg = { graceSec: 3, bootTimeoutSec: 300 };
const T0 = Date.parse('2026-11-01T10:00:00Z');
const at = (s: number) => new Date(T0 + s * 1000);

beforeAll(() => Logger.overrideLogger(false));

describe('decideSessionAction', () => {
  it('a login of this boot makes starting/booting running, and running stays', () => {
    for (const status of ['starting', 'booting'] as const) {
      expect(decideSessionAction({ status, startedAt: at(0), lastSeenAt: null }, { ip: 'x', since: at(5) }, T0 + 6000, cfg)).toEqual({
        action: { kind: 'running', loginAt: at(5) },
        connected: true,
      });
    }
    expect(decideSessionAction({ status: 'running', startedAt: at(0), lastSeenAt: at(6) }, { ip: null, since: T0 + 5000 }, T0 + 60_000, cfg)).toEqual(
      {
        action: null,
        connected: true,
      },
    );
  });

  it('ignores the stale login of the previous boot', () => {
    const d = decideSessionAction({ status: 'booting', startedAt: at(100), lastSeenAt: null }, { ip: 'x', since: at(10) }, T0 + 101_000, cfg);
    expect(d).toEqual({ action: null, connected: false });
  });

  it('shuts a running session down after the grace period without a login', () => {
    const s = { status: 'running' as const, startedAt: at(0), lastSeenAt: at(10) };
    expect(decideSessionAction(s, undefined, T0 + 13_000, cfg).action).toBeNull();
    expect(decideSessionAction(s, undefined, T0 + 13_001, cfg).action).toEqual({ kind: 'shutdown', reason: 'no iSCSI connection for 3 s' });
  });

  it('times out a boot that never logs in', () => {
    const s = { status: 'starting' as const, startedAt: at(0), lastSeenAt: null };
    expect(decideSessionAction(s, undefined, T0 + 300_000, cfg).action).toBeNull();
    expect(decideSessionAction(s, undefined, T0 + 300_001, cfg).action).toEqual({ kind: 'timeout', message: 'no iSCSI login within 300 s' });
  });
});

describe('SessionMonitor.runOnce', () => {
  it('syncs the cache, applies verdicts and records last_seen_at for connected sessions', async () => {
    const rows = [
      { id: 's1', clientId: 'a', status: 'booting', startedAt: at(0), lastSeenAt: null },
      { id: 's2', clientId: 'b', status: 'running', startedAt: at(0), lastSeenAt: at(1) },
      { id: 's3', clientId: 'c', status: 'starting', startedAt: at(0), lastSeenAt: null },
    ] as BootSession[];
    const updates: unknown[] = [];
    const repo = {
      listOpen: async () => rows,
      markSeen: async (where: unknown, patch: unknown) => void updates.push({ where, patch }),
    } as unknown as BootSessionsService;
    const applied: Array<[string, string, MonitorAction]> = [];
    let synced: unknown[] = [];
    const tracker = {
      syncMark: () => 0,
      syncOpenSessions: (open: unknown[]) => (synced = open),
      applyMonitorAction: async (c: string, s: string, a: MonitorAction) => void applied.push([c, s, a]),
    } as unknown as BootSessionTracker;
    const iscsi = new FakeIscsi();
    iscsi.logins.set('a', { ip: '10.213.0.100', since: at(4) });
    const config = { iscsi: { enabled: true }, boot: { sessionGraceSec: 3, bootTimeoutSec: 5 } } as AppConfig;
    const recent = new RecentLogins();
    const events: [string, unknown][] = [];
    const monitor = new SessionMonitor(config, tracker, iscsi, repo, recent, { emit: (type, body) => events.push([type, body]) });
    await monitor.runOnce(T0 + 6000);
    expect(recent.recentIp('a', T0 + 6000)).toBe('10.213.0.100'); // the script route's "in use" check sees it
    expect(events).toEqual([['iscsi.login', { clientId: 'a', ip: '10.213.0.100' }]]);
    expect(synced).toBe(rows);
    expect(applied).toEqual([
      ['a', 's1', { kind: 'running', loginAt: expect.any(Date) }],
      ['b', 's2', { kind: 'shutdown', reason: 'no iSCSI connection for 3 s' }],
      ['c', 's3', { kind: 'timeout', message: 'no iSCSI login within 5 s' }],
    ]);
    expect(updates).toHaveLength(1);
    expect(JSON.stringify(updates[0])).toContain('s1');
    // one login event per change: the same listing again is quiet, the login gone is a logout
    await monitor.runOnce(T0 + 8000);
    expect(events).toHaveLength(1);
    iscsi.logins.clear();
    await monitor.runOnce(T0 + 10000);
    expect(events[1]).toEqual(['iscsi.logout', { clientId: 'a', ip: '10.213.0.100' }]);
  });

  it('never throws', async () => {
    const repo = { listOpen: async () => Promise.reject(new Error('db down')), markSeen: async () => undefined } as unknown as BootSessionsService;
    const config = { iscsi: { enabled: true }, boot: { sessionGraceSec: 3, bootTimeoutSec: 5 } } as AppConfig;
    await expect(new SessionMonitor(config, {} as BootSessionTracker, new FakeIscsi(), repo, new RecentLogins()).runOnce()).resolves.toBeUndefined();
  });
});
