import type { DlsEvent } from '../../events/types';
import { bucketLabels, FEED_CAP, prependCapped, startOfToday, storageGauge, summarize, toLine, type FeedLine } from './overview-model';

const ev = (type: DlsEvent['type'], body: object, id?: string): DlsEvent => ({ id, type, time: '2026-12-05T12:00:00Z', body }) as DlsEvent;
const line = (n: number): FeedLine => ({ key: String(n), time: '', type: 'change', summary: String(n) });

describe('overview model', () => {
  it('summarises each event type in one line', () => {
    expect(
      summarize(
        ev('boot-session', {
          sessionId: 's',
          clientId: 'c1234567-aaaa',
          status: 'running',
          previousStatus: 'booting',
          clientIp: '10.0.0.5',
          bootTimeSeconds: 42,
          elapsedMs: 42000,
          error: null,
          reason: null,
        }),
      ),
    ).toBe('10.0.0.5 booting → running in 42 s');
    expect(
      summarize(
        ev('boot-session', {
          sessionId: 's',
          clientId: 'c1234567-aaaa',
          status: 'error',
          previousStatus: 'starting',
          clientIp: null,
          bootTimeSeconds: null,
          elapsedMs: null,
          error: 'iSCSI login timed out',
          reason: null,
        }),
      ),
    ).toBe('client c1234567 starting → error: iSCSI login timed out');
    expect(
      summarize(
        ev('dhcp', {
          mac: '52:54:00:12:34:56',
          clientId: null,
          rangeId: 'r',
          range: 'lab',
          xid: '1',
          message: 'discover',
          reply: 'offer',
          ip: '10.0.0.9',
          proxy: false,
          reason: null,
        }),
      ),
    ).toBe('discover from 52:54:00:12:34:56 on lab → offer 10.0.0.9');
    expect(summarize(ev('tftp', { file: 'undionly.kpxe', clientIp: '10.0.0.9', bytes: 2048, durationMs: 12, ok: true, error: null }))).toBe(
      'undionly.kpxe to 10.0.0.9: 2.00 KiB in 12 ms',
    );
    expect(summarize(ev('tftp', { file: 'x', clientIp: '10.0.0.9', bytes: 0, durationMs: 1, ok: false, error: 'not found' }))).toBe(
      'x to 10.0.0.9 failed: not found',
    );
    expect(summarize(ev('boot-script', { mac: null, clientId: null, clientIp: '10.0.0.9', outcome: 'refused', reason: 'unknown MAC' }))).toBe(
      'script refused for 10.0.0.9 (unknown MAC)',
    );
    expect(summarize(ev('iscsi.logout', { clientId: 'abcdef0123', ip: null }))).toBe('client abcdef01 logged out');
    expect(summarize(ev('image.import', { imageId: 'i', name: 'win11', phase: 'progress', percent: 41.6, sizeBytes: null, error: null }))).toBe(
      'import of win11 progress 42%',
    );
    expect(summarize(ev('version.published', { imageId: '12345678-x', versionId: 'v', name: 'v2' }))).toBe('v2 published (image 12345678)');
    expect(summarize(ev('storage.alert', { freeBytes: 1, neededBytes: 2, minFreeBytes: 3, message: 'low on space' }))).toBe('low on space');
    expect(summarize(ev('wake', { trigger: 'group', total: 3, sent: 2, failed: 1, clients: [] }))).toBe('wake (group): 2 of 3 sent, 1 failed');
    expect(
      summarize(
        ev('audit', {
          action: 'clients.create',
          entityType: 'clients',
          entityId: '0123456789',
          username: 'admin',
          statusCode: 201,
          remoteAddress: null,
        }),
      ),
    ).toBe('admin: clients.create 01234567 → 201');
    expect(summarize(ev('change', { action: 'images.delete', entityType: 'images', entityId: null }))).toBe('images.delete');
    expect(summarize(ev('reset', { reason: 'too old' }))).toBe('stream reset: too old');
  });

  it('keys lines by event id, or locally for control messages', () => {
    expect(toLine(ev('change', { action: 'a', entityType: 'a', entityId: null }, '42')).key).toBe('42');
    const a = toLine(ev('reset', { reason: 'x' }));
    const b = toLine(ev('reset', { reason: 'x' }));
    expect(a.key).not.toBe(b.key);
  });

  it('prepends newest first and caps the feed', () => {
    expect(prependCapped([line(2), line(1)], [line(3), line(4)]).map((l) => l.key)).toEqual(['4', '3', '2', '1']);
    const burst = Array.from({ length: 5000 }, (_, i) => line(i));
    const out = prependCapped([line(-1)], burst);
    expect(out).toHaveLength(FEED_CAP);
    expect(out[0].key).toBe('4999');
    expect(out[FEED_CAP - 1].key).toBe(String(5000 - FEED_CAP));
    expect(prependCapped([line(1), line(0)], [line(2)], 2).map((l) => l.key)).toEqual(['2', '1']);
  });

  it('labels histogram buckets from their upper edges', () => {
    expect(
      bucketLabels([
        { upToSeconds: 5, count: 0 },
        { upToSeconds: 10, count: 1 },
        { upToSeconds: null, count: 2 },
      ]),
    ).toEqual(['≤ 5 s', '5–10 s', '> 10 s']);
  });

  it('starts today at local midnight', () => {
    const s = new Date(startOfToday(new Date(2026, 11, 5, 15, 30)));
    expect([s.getFullYear(), s.getMonth(), s.getDate(), s.getHours(), s.getMinutes()]).toEqual([2026, 11, 5, 0, 0]);
  });

  it('places used, free and the min-free line on the gauge', () => {
    expect(storageGauge({ totalBytes: 1000, usedBytes: 250, freeBytes: 750, minFreeBytes: 100 })).toEqual({
      usedPct: 25,
      freePct: 75,
      minFreeAtPct: 90,
      belowMinFree: false,
    });
    expect(storageGauge({ totalBytes: 1000, usedBytes: 950, freeBytes: 50, minFreeBytes: 100 }).belowMinFree).toBe(true);
    expect(storageGauge({ totalBytes: 0, usedBytes: 0, freeBytes: 0, minFreeBytes: 0 }).minFreeAtPct).toBeNull();
  });
});
