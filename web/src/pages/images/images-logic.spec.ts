import { clientsInUse, contentProgress, formatFromFileName, IDLE, percentOf, storageGauge, topBy } from './images-logic';

describe('images page logic', () => {
  it('guesses the disk format from the file name', () => {
    expect(formatFromFileName('win11.QCOW2')).toBe('qcow2');
    expect(formatFromFileName('disk.vhdx')).toBe('vhdx');
    expect(formatFromFileName('disk.img')).toBe('raw');
    expect(formatFromFileName('disk')).toBe('raw');
  });

  it('reads the clients of a VERSION_IN_USE 409 in both shapes', () => {
    expect(clientsInUse(undefined)).toEqual({ clients: [], count: 0 });
    expect(clientsInUse({ snapshotId: 'x' })).toEqual({ clients: [], count: 0 });
    expect(clientsInUse({ clients: ['pc-01', 'pc-02'] })).toEqual({ clients: [{ hostname: 'pc-01' }, { hostname: 'pc-02' }], count: 2 });
    expect(clientsInUse({ clients: [{ id: 'a', hostname: 'pc-01' }], count: 12 })).toEqual({ clients: [{ id: 'a', hostname: 'pc-01' }], count: 12 });
  });

  it('follows an upload, then the import events, and keeps a finished state against late values', () => {
    let s = contentProgress(IDLE, { type: 'upload-start', total: 100 });
    expect(s.phase).toBe('uploading');
    s = contentProgress(s, { type: 'upload-progress', sent: 40, total: 100 });
    s = contentProgress(s, { type: 'upload-progress', sent: 30, total: 100 });
    expect(s.sent).toBe(40);
    s = contentProgress(s, { type: 'import-event', phase: 'progress', percent: 20, error: null });
    expect(s.importPercent).toBe(20);
    expect(s.phase).toBe('uploading');
    s = contentProgress(s, { type: 'upload-sent' });
    expect(s).toMatchObject({ phase: 'importing', sent: 100 });
    s = contentProgress(s, { type: 'import-event', phase: 'done', percent: null, error: null });
    expect(s).toMatchObject({ phase: 'done', importPercent: 100 });
    s = contentProgress(s, { type: 'import-event', phase: 'progress', percent: 60, error: null });
    s = contentProgress(s, { type: 'upload-progress', sent: 90, total: 100 });
    expect(s).toMatchObject({ phase: 'done', importPercent: 100, sent: 100 });
    expect(contentProgress(s, { type: 'reset' })).toBe(IDLE);
  });

  it('shows a failed import with its error', () => {
    let s = contentProgress(IDLE, { type: 'import-event', phase: 'started', percent: 0, error: null });
    expect(s.phase).toBe('importing');
    s = contentProgress(s, { type: 'import-event', phase: 'failed', percent: null, error: 'bad qcow2' });
    expect(s).toMatchObject({ phase: 'failed', error: 'bad qcow2' });
    expect(contentProgress(IDLE, { type: 'request-failed', error: '507' })).toMatchObject({ phase: 'failed', error: '507' });
  });

  it('computes percentages, the storage gauge and the top N', () => {
    expect(percentOf(1, 3)).toBe(33.3);
    expect(percentOf(5, 0)).toBe(0);
    expect(percentOf(null, 10)).toBe(0);
    expect(storageGauge({ totalBytes: 1000, usedBytes: 250, freeBytes: 750, minFreeBytes: 100 })).toEqual({
      usedPct: 25,
      freePct: 75,
      unavailablePct: 0,
      minFreePct: 10,
      markerPct: 90,
      belowMinFree: false,
    });
    // Reserved blocks: used + free < total; the marker sits inside the free part, not at the full end.
    expect(storageGauge({ totalBytes: 1000, usedBytes: 100, freeBytes: 300, minFreeBytes: 50 })).toMatchObject({
      unavailablePct: 60,
      markerPct: 35,
    });
    expect(storageGauge({ totalBytes: 1000, usedBytes: 980, freeBytes: 10, minFreeBytes: 50 }).markerPct).toBe(98);
    expect(storageGauge({ totalBytes: 1000, usedBytes: 950, freeBytes: 50, minFreeBytes: 100 }).belowMinFree).toBe(true);
    expect(topBy([{ s: 1 }, { s: 5 }, { s: 3 }, { s: 5 }], (x) => x.s, 3)).toEqual([{ s: 5 }, { s: 5 }, { s: 3 }]);
  });
});
