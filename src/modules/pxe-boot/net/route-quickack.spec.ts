import { parseRoute } from './route-quickack';

describe('parseRoute', () => {
  it('keeps the destination, scope, src and metric of a connected route', () => {
    expect(parseRoute('10.213.0.0/24 scope link src 10.213.0.1 ')).toEqual(['10.213.0.0/24', 'scope', 'link', 'src', '10.213.0.1']);
    expect(parseRoute('10.0.0.0/8 scope link src 10.0.0.1 metric 100 quickack 1')).toEqual([
      '10.0.0.0/8', 'scope', 'link', 'src', '10.0.0.1', 'metric', '100',
    ]);
  });

  it('ignores blank lines, other families and anything injected', () => {
    expect(parseRoute('')).toBeNull();
    expect(parseRoute('fd00::/64 proto kernel')).toBeNull();
    expect(parseRoute('default via 10.0.0.1')).toBeNull();
    expect(parseRoute('10.0.0.0/24 src $(id) scope ;rm')).toEqual(['10.0.0.0/24']);
  });
});
