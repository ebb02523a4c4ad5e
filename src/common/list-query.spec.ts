import { parseSort, prefixPattern } from './list-query';

describe('list queries', () => {
  const cols = { name: 'x.name', createdAt: 'x.created_at' };
  it('parses field, -field and field:asc|desc against the whitelist', () => {
    expect(parseSort(undefined, cols)).toBeNull();
    expect(parseSort('name', cols)).toEqual({ column: 'x.name', direction: 'ASC' });
    expect(parseSort('-createdAt', cols)).toEqual({ column: 'x.created_at', direction: 'DESC' });
    expect(parseSort('createdAt:desc', cols)).toEqual({ column: 'x.created_at', direction: 'DESC' });
    expect(parseSort('name:ASC', cols)).toEqual({ column: 'x.name', direction: 'ASC' });
  });
  it('refuses unknown fields and malformed values', () => {
    for (const bad of ['password', 'name:up', '-name:asc', 'name;drop', '', 'constructor', '__proto__', 'toString'])
      expect(parseSort(bad, cols)).toBeNull();
  });
  it('escapes LIKE wildcards in a prefix', () => {
    expect(prefixPattern('pc-01')).toBe('pc-01%');
    expect(prefixPattern('a%b_c\\')).toBe('a\\%b\\_c\\\\%');
  });
});
