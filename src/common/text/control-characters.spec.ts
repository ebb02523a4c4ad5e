import { findControlCharacters } from './control-characters';

describe('findControlCharacters', () => {
  it('accepts ordinary text, TAB, LF, CR and non-ASCII', () => {
    expect(findControlCharacters({ a: 'plain', b: 'two\nlines\r\n\tindented', c: 'Grüße ✓', d: [1, true, null, 'x'] })).toEqual([]);
  });

  it.each(['\u0000', '\u0001', '\u0008', '\u000b', '\u000c', '\u000e', '\u001b', '\u001f', '\u007f'])('refuses %j and names the field', (ch) => {
    const code = `U+${ch.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
    expect(findControlCharacters({ name: `a${ch}b` })).toEqual([
      { field: 'name', message: `name must not contain control characters (found ${code})` },
    ]);
  });

  it('walks nested objects and arrays, naming the path', () => {
    expect(findControlCharacters({ tags: ['ok', 'b\u0000'], cfg: { a: { b: '\u0000' } } }).map((p) => p.field)).toEqual(['cfg.a.b', 'tags.1']);
    expect(findControlCharacters([{ hostname: 'pc' }, { hostname: 'x', customBootParams: 'a\u0000' }])).toEqual([
      { field: '1.customBootParams', message: '1.customBootParams must not contain control characters (found U+0000)' },
    ]);
  });

  it('refuses control characters in property names without echoing them raw', () => {
    const [p] = findControlCharacters({ cfg: { 'k\u0000': 1 } });
    expect(p.field).toBe('cfg."k\\u0000"');
    expect(p.message).not.toContain('\u0000');
  });

  it('prefixes a root name and judges a bare string', () => {
    expect(findControlCharacters('a\u0000', 'mac')).toEqual([{ field: 'mac', message: 'mac must not contain control characters (found U+0000)' }]);
    expect(findControlCharacters('a\u0000')[0].field).toBe('(value)');
  });

  it('survives very deep nesting and caps the number of problems', () => {
    let deep: unknown = 'x\u0000';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(findControlCharacters(deep)).toHaveLength(1);
    expect(findControlCharacters(Array.from({ length: 1000 }, () => '\u0000'))).toHaveLength(20);
  });

  it('leaves Buffers and other non-plain objects alone', () => {
    expect(findControlCharacters({ b: Buffer.from([0, 1, 2]), d: new Date(0) })).toEqual([]);
  });
});
