import { checkBootToken, signBootToken } from './boot-token';

const key = Buffer.alloc(32, 7);
const MAC = '52:54:00:12:34:56';
const NOW = 1_800_000_000;

describe('boot tokens', () => {
  it('accept the MAC and address they were made for until they expire', () => {
    const t = signBootToken(key, MAC, '10.0.0.5', NOW, 300);
    expect(t).toMatch(/^[0-9a-z]+\.[A-Za-z0-9_-]{22}$/);
    expect(checkBootToken(key, t, MAC, '10.0.0.5', NOW + 299)).toBeNull();
    expect(checkBootToken(key, t, MAC, '10.0.0.5', NOW + 301)).toBe('expired token');
  });

  it('refuse another MAC, another address, another key, a forged expiry and junk', () => {
    const t = signBootToken(key, MAC, '10.0.0.5', NOW);
    expect(checkBootToken(key, t, '52:54:00:12:34:57', '10.0.0.5', NOW)).toBe('token does not match this machine');
    expect(checkBootToken(key, t, MAC, '10.0.0.6', NOW)).toBe('token does not match this machine');
    expect(checkBootToken(key, t, MAC, null, NOW)).toBe('token does not match this machine');
    expect(checkBootToken(Buffer.alloc(32, 8), t, MAC, '10.0.0.5', NOW)).toBe('token does not match this machine');
    const [, sig] = t.split('.');
    expect(checkBootToken(key, `${(NOW + 99_999).toString(36)}.${sig}`, MAC, '10.0.0.5', NOW)).toBe('token does not match this machine');
    for (const junk of [undefined, '', 'x', 'abc.def', `${t}x`, 42, ['a']]) expect(checkBootToken(key, junk, MAC, '10.0.0.5', NOW)).not.toBeNull();
    expect(checkBootToken(key, undefined, MAC, null, NOW)).toBe('no token');
  });

  it('a token made without an address (proxy mode) is checked without one', () => {
    const t = signBootToken(key, MAC, null, NOW);
    expect(checkBootToken(key, t, MAC, null, NOW)).toBeNull();
    expect(checkBootToken(key, t, MAC, '10.0.0.5', NOW)).not.toBeNull();
  });
});
