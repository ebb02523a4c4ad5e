import { jsonDepthExceeds } from './json-depth';

const nested = (depth: number, asArray: boolean): unknown =>
  JSON.parse((asArray ? '[' : '{"a":').repeat(depth) + '1' + (asArray ? ']' : '}').repeat(depth));

describe('jsonDepthExceeds', () => {
  it('counts scalars as depth 0 and each array/object level as one', () => {
    expect(jsonDepthExceeds(1, 0)).toBe(false);
    expect(jsonDepthExceeds('x', 0)).toBe(false);
    expect(jsonDepthExceeds(null, 0)).toBe(false);
    expect(jsonDepthExceeds({}, 0)).toBe(true);
    expect(jsonDepthExceeds({}, 1)).toBe(false);
    expect(jsonDepthExceeds({ a: [1] }, 1)).toBe(true);
    expect(jsonDepthExceeds({ a: [1] }, 2)).toBe(false);
  });

  it.each([true, false])('accepts 32 levels and refuses 33 (arrays: %s)', (asArray) => {
    expect(jsonDepthExceeds(nested(32, asArray))).toBe(false);
    expect(jsonDepthExceeds(nested(33, asArray))).toBe(true);
  });

  it('walks 100 000 levels without overflowing the stack', () => {
    expect(jsonDepthExceeds(nested(100_000, true))).toBe(true);
  });

  it('finds a deep branch beside shallow ones', () => {
    expect(jsonDepthExceeds({ a: 1, b: [2, 3], c: { d: nested(40, false) } })).toBe(true);
  });
});
