import { buildRouterSolicitation, checkRouterSolicitation } from './router-solicitation';

describe('checkRouterSolicitation (RFC 4861 §6.1.1)', () => {
  const LL = 'fe80::5054:ff:fe12:3456';

  it('accepts a bare RS and one carrying a Source Link-Layer Address option', () => {
    expect(checkRouterSolicitation(buildRouterSolicitation(), 255, '::')).toEqual({
      valid: true,
      solicitation: { source: '::' },
    });
    expect(checkRouterSolicitation(buildRouterSolicitation('52:54:00:12:34:56'), 255, LL)).toEqual({
      valid: true,
      solicitation: { source: LL, sourceLinkLayerAddress: '52:54:00:12:34:56' },
    });
  });

  it('encodes an RS as type 133 with 4 reserved bytes and an optional SLLA option', () => {
    expect(buildRouterSolicitation().toString('hex')).toBe('8500000000000000');
    expect(buildRouterSolicitation('52:54:00:12:34:56').toString('hex')).toBe('85000000000000000101525400123456');
  });

  it.each([
    ['hop limit below 255', buildRouterSolicitation(), 254, LL, /hop limit/],
    ['a short message', Buffer.from('85000000', 'hex'), 255, LL, /length/],
    ['another ICMPv6 type', Buffer.from('8600000000000000', 'hex'), 255, LL, /type/],
    ['a non-zero code', Buffer.from('8501000000000000', 'hex'), 255, LL, /code/],
    ['a zero-length option', Buffer.from('85000000000000000100000000000000', 'hex'), 255, LL, /length 0/],
    ['an option past the end', Buffer.from('850000000000000001025254001234', 'hex'), 255, LL, /past/],
    ['SLLA with unspecified source', buildRouterSolicitation('52:54:00:12:34:56'), 255, '::', /unspecified/],
    ['a bad source text', buildRouterSolicitation(), 255, 'fe80::%eth0', /source/],
  ])('discards %s', (_name, icmp, hopLimit, source, reason) => {
    const result = checkRouterSolicitation(icmp, hopLimit, source);
    expect(result.valid).toBe(false);
    expect(result.valid ? '' : result.reason).toMatch(reason);
  });
});
