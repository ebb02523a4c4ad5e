import fc from 'fast-check';
import { signNodeRequest, TOKEN_LIFETIME_MS, verifyNodeRequest } from './node-token';

const SECRET = 'a'.repeat(64);
const NODE = '0b0e6f3c-58a3-4c0e-9d55-1f5e8b0f6a11';
const PATH = '/api/v1/replication/versions/7d9f3a44-1a0b-4b6c-8d8e-2f4a5b6c7d8e/content?base=';
const NOW = 1_800_000_000_000;

describe('node request tokens', () => {
  it('a signed request verifies for its own method and path, and names the node', () => {
    const h = signNodeRequest(SECRET, NODE, 'GET', PATH, NOW);
    expect(h.startsWith('DLS-Node ')).toBe(true);
    expect(verifyNodeRequest(SECRET, h, 'GET', PATH, NOW + 1000)).toEqual({ nodeId: NODE });
  });

  it('is refused for another path, method, secret, or once expired', () => {
    const h = signNodeRequest(SECRET, NODE, 'GET', PATH, NOW);
    expect(verifyNodeRequest(SECRET, h, 'GET', `${PATH}x`, NOW)).toEqual({ refused: 'bad-signature' });
    expect(verifyNodeRequest(SECRET, h, 'DELETE', PATH, NOW)).toEqual({ refused: 'bad-signature' });
    expect(verifyNodeRequest('b'.repeat(64), h, 'GET', PATH, NOW)).toEqual({ refused: 'bad-signature' });
    expect(verifyNodeRequest(SECRET, h, 'GET', PATH, NOW + TOKEN_LIFETIME_MS + 1)).toEqual({ refused: 'expired' });
  });

  it('refuses a token whose expiry was pushed far ahead, even with a valid-looking shape', () => {
    const far = signNodeRequest(SECRET, NODE, 'GET', PATH, NOW + 3_600_000);
    expect(verifyNodeRequest(SECRET, far, 'GET', PATH, NOW)).toEqual({ refused: 'expired' });
  });

  it('refuses a missing header and any other shape (user bearer tokens, another node id in a signed token)', () => {
    expect(verifyNodeRequest(SECRET, undefined, 'GET', PATH, NOW)).toEqual({ refused: 'missing' });
    expect(verifyNodeRequest(SECRET, 'Bearer abc.def.ghi', 'GET', PATH, NOW)).toEqual({ refused: 'malformed' });
    const h = signNodeRequest(SECRET, NODE, 'GET', PATH, NOW);
    const other = h.replace(NODE, '1b0e6f3c-58a3-4c0e-9d55-1f5e8b0f6a11');
    expect(verifyNodeRequest(SECRET, other, 'GET', PATH, NOW)).toEqual({ refused: 'bad-signature' });
  });

  it('never accepts an arbitrary header (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        const r = verifyNodeRequest(SECRET, s, 'GET', PATH, NOW);
        expect('refused' in r).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
