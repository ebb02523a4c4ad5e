import { negotiateReadOptions } from './tftp.options';

const req = (entries: Record<string, string>): Map<string, string> => new Map(Object.entries(entries));

describe('negotiateReadOptions', () => {
  it('no options → RFC 1350 defaults and no OACK', () => {
    expect(negotiateReadOptions(new Map(), 1000)).toEqual({
      blksize: 512,
      windowsize: 1,
      timeoutSeconds: undefined,
      tsize: undefined,
      oack: [],
    });
  });

  it('iPXE undionly request: blksize 1432 tsize 0 → OACK blksize 1432 tsize <size>', () => {
    const n = negotiateReadOptions(req({ blksize: '1432', tsize: '0' }), 74213);
    expect(n.blksize).toBe(1432);
    expect(n.tsize).toBe(74213);
    expect(n.oack).toEqual([
      ['blksize', '1432'],
      ['tsize', '74213'],
    ]);
  });

  it('OVMF request: tsize 0 blksize 1468 windowsize 4 keeps the client order', () => {
    const n = negotiateReadOptions(req({ tsize: '0', blksize: '1468', windowsize: '4' }), 850528);
    expect(n.oack).toEqual([
      ['tsize', '850528'],
      ['blksize', '1468'],
      ['windowsize', '4'],
    ]);
    expect(n.windowsize).toBe(4);
  });

  describe('blksize (RFC 2348)', () => {
    it.each([
      ['8', 8],
      ['1468', 1468],
      ['1500', 1468],
      ['65464', 1468],
      ['99999999', 1468],
    ])('%s → %d with the default limit', (value, expected) => {
      expect(negotiateReadOptions(req({ blksize: value }), 1).blksize).toBe(expected);
    });

    it('clamps to the server limit, itself capped at 65464', () => {
      expect(negotiateReadOptions(req({ blksize: '9000' }), 1, { maxBlksize: 4096 }).blksize).toBe(4096);
      expect(negotiateReadOptions(req({ blksize: '65535' }), 1, { maxBlksize: 1e6 }).blksize).toBe(65464);
    });

    it.each(['7', '0', '-1', '', ' 512', '0x200', '512.0', '5e2', 'abc'])('ignores %j', (value) => {
      const n = negotiateReadOptions(req({ blksize: value }), 1);
      expect(n.blksize).toBe(512);
      expect(n.oack).toEqual([]);
    });
  });

  describe('timeout (RFC 2349)', () => {
    it.each([
      ['1', 1],
      ['255', 255],
    ])('accepts %s', (value, expected) => {
      const n = negotiateReadOptions(req({ timeout: value }), 1);
      expect(n.timeoutSeconds).toBe(expected);
      expect(n.oack).toEqual([['timeout', value]]);
    });
    it.each(['0', '256', 'x', '-3'])('ignores %j', (value) => {
      const n = negotiateReadOptions(req({ timeout: value }), 1);
      expect(n.timeoutSeconds).toBeUndefined();
      expect(n.oack).toEqual([]);
    });
  });

  describe('tsize (RFC 2349)', () => {
    it('reports the size, including 0 for an empty file', () => {
      expect(negotiateReadOptions(req({ tsize: '0' }), 0).oack).toEqual([['tsize', '0']]);
    });
    it('ignores tsize when the size is unknown or the value is not decimal', () => {
      expect(negotiateReadOptions(req({ tsize: '0' }), undefined).oack).toEqual([]);
      expect(negotiateReadOptions(req({ tsize: 'big' }), 10).oack).toEqual([]);
    });
  });

  describe('windowsize (RFC 7440)', () => {
    it('clamps to the server maximum', () => {
      expect(negotiateReadOptions(req({ windowsize: '65535' }), 1).windowsize).toBe(64);
      expect(negotiateReadOptions(req({ windowsize: '65535' }), 1, { maxWindowsize: 1e9 }).windowsize).toBe(65535);
      expect(negotiateReadOptions(req({ windowsize: '16' }), 1, { maxWindowsize: 8 }).oack).toEqual([['windowsize', '8']]);
    });
    it.each(['0', '65536', 'four'])('ignores %j', (value) => {
      const n = negotiateReadOptions(req({ windowsize: value }), 1);
      expect(n.windowsize).toBe(1);
      expect(n.oack).toEqual([]);
    });
  });

  it('ignores unknown options (RFC 2347) and answers only known ones', () => {
    const n = negotiateReadOptions(req({ multicast: '', rollover: '0', utimeout: '100', blksize: '1024' }), 5);
    expect(n.oack).toEqual([['blksize', '1024']]);
  });
});
