import { formatAgo, formatBytes, formatMs, formatSeconds } from './format';

describe('dashboard formatting', () => {
  it('formats bytes in binary units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.50 KiB');
    expect(formatBytes(8 * 1024 ** 3)).toBe('8.00 GiB');
    expect(formatBytes(null)).toBe('—');
  });
  it('formats durations', () => {
    expect(formatSeconds(4.25)).toBe('4.3 s');
    expect(formatSeconds(75)).toBe('1 min 15 s');
    expect(formatMs(250)).toBe('250 ms');
    expect(formatMs(12_000)).toBe('12 s');
  });
  it('formats relative times', () => {
    const now = Date.parse('2026-12-05T12:00:00Z');
    expect(formatAgo('2026-12-05T11:59:58Z', now)).toBe('just now');
    expect(formatAgo('2026-12-05T11:58:00Z', now)).toBe('2 min ago');
    expect(formatAgo(null, now)).toBe('—');
  });
});
