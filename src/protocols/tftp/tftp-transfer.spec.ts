import { TftpReadTransfer, type TftpTransferAction } from './tftp-transfer';

type Params = ConstructorParameters<typeof TftpReadTransfer>[0];
const make = (p: Partial<Params>): TftpReadTransfer =>
  new TftpReadTransfer({ length: 0, blksize: 512, windowsize: 1, oack: false, retries: 3, ...p });

const blocks = (actions: TftpTransferAction[]): number[] => actions.flatMap((a) => (a.kind === 'data' ? [a.block] : []));
const kinds = (actions: TftpTransferAction[]): string[] => actions.map((a) => a.kind);

describe('TftpReadTransfer', () => {
  describe('expectedAck: the ACK of everything sent and the window onAck answers it with', () => {
    it('matches what onAck then returns, through the OACK, windows, a block-number wrap and the end', () => {
      // 70,000 blocks of 8 bytes (wraps past 65535), windowsize 7, with an OACK
      const t = make({ length: 8 * 70_000 - 3, blksize: 8, windowsize: 7, oack: true });
      expect(t.expectedAck()).toBeUndefined(); // nothing sent yet
      t.start();
      let next = t.expectedAck();
      expect(next).toEqual({ block: 0, firstIndex: 1, count: 7 });
      let rounds = 0;
      while (next) {
        const actions = t.onAck(next.block);
        expect(actions.map((a) => (a.kind === 'data' ? a.index : -1))).toEqual(Array.from({ length: next.count }, (_, i) => next!.firstIndex + i));
        expect(t.expectedAck()).not.toEqual(next); // a duplicate of that ACK changes nothing after it
        expect(t.onAck(next.block)).toEqual([]);
        next = t.expectedAck();
        rounds++;
      }
      expect(rounds).toBe(10_000);
      expect(t.onAck(70_000 % 65_536)).toEqual([{ kind: 'complete' }]);
      expect(t.expectedAck()).toBeUndefined();
    });

    it('lock-step without OACK; a mid-window ACK and a timeout keep it consistent; nothing once over', () => {
      const t = make({ length: 512 * 5, windowsize: 1 });
      t.start();
      expect(t.expectedAck()).toEqual({ block: 1, firstIndex: 2, count: 1 });
      const w = make({ length: 512 * 10, windowsize: 4 });
      w.start(); // blocks 1-4
      expect(w.expectedAck()).toEqual({ block: 4, firstIndex: 5, count: 4 });
      w.onAck(2); // block 3 lost: window restarts at 3
      expect(w.expectedAck()).toEqual({ block: 6, firstIndex: 7, count: 4 });
      w.onTimeout(); // the same window again: same expectation
      expect(w.expectedAck()).toEqual({ block: 6, firstIndex: 7, count: 4 });
      w.onError();
      expect(w.expectedAck()).toBeUndefined();
    });
  });

  it('empty file: one empty block, complete on ACK 1', () => {
    const t = make({ length: 0 });
    expect(t.start()).toEqual([{ kind: 'data', block: 1, index: 1, offset: 0, length: 0 }]);
    expect(t.onAck(1)).toEqual([{ kind: 'complete' }]);
    expect(t.state).toBe('complete');
    expect(t.bytesAcknowledged).toBe(0);
  });

  it('exactly 512 bytes: a full block then an empty final block', () => {
    const t = make({ length: 512 });
    expect(t.totalBlocks).toBe(2);
    expect(t.start()).toEqual([{ kind: 'data', block: 1, index: 1, offset: 0, length: 512 }]);
    expect(t.onAck(1)).toEqual([{ kind: 'data', block: 2, index: 2, offset: 512, length: 0 }]);
    expect(t.onAck(2)).toEqual([{ kind: 'complete' }]);
    expect(t.bytesAcknowledged).toBe(512);
  });

  it('512*k+1 bytes ends with a 1-byte block', () => {
    const t = make({ length: 512 * 3 + 1 });
    expect(t.totalBlocks).toBe(4);
    t.start();
    t.onAck(1);
    t.onAck(2);
    expect(t.onAck(3)).toEqual([{ kind: 'data', block: 4, index: 4, offset: 1536, length: 1 }]);
  });

  it('OACK handshake: data only after ACK 0; other ACKs ignored before', () => {
    const t = make({ length: 100, oack: true });
    expect(t.state).toBe('awaiting-oack-ack');
    expect(t.start()).toEqual([{ kind: 'oack' }]);
    expect(t.onAck(1)).toEqual([]);
    expect(t.onAck(65535)).toEqual([]);
    expect(t.onTimeout()).toEqual([{ kind: 'oack' }]);
    expect(blocks(t.onAck(0))).toEqual([1]);
    expect(t.onAck(0)).toEqual([]); // duplicate ACK 0
    expect(t.onAck(1)).toEqual([{ kind: 'complete' }]);
  });

  it('duplicate and old ACKs never trigger a re-send (Sorcerer’s Apprentice)', () => {
    const t = make({ length: 512 * 10 });
    t.start();
    expect(blocks(t.onAck(1))).toEqual([2]);
    expect(t.onAck(1)).toEqual([]);
    expect(t.onAck(1)).toEqual([]);
    expect(blocks(t.onAck(2))).toEqual([3]);
    expect(t.onAck(1)).toEqual([]);
    expect(t.onAck(0)).toEqual([]);
    expect(t.onAck(9)).toEqual([]); // never sent
    expect(t.retransmissions).toBe(0);
  });

  it('retries: each timeout re-sends the window, progress refills the budget, then gives up', () => {
    const t = make({ length: 5000, retries: 2 });
    t.start();
    expect(blocks(t.onTimeout())).toEqual([1]);
    expect(blocks(t.onTimeout())).toEqual([1]);
    expect(blocks(t.onAck(1))).toEqual([2]);
    expect(blocks(t.onTimeout())).toEqual([2]);
    expect(blocks(t.onTimeout())).toEqual([2]);
    expect(kinds(t.onTimeout())).toEqual(['give-up']);
    expect(t.state).toBe('timed-out');
    expect(t.onAck(2)).toEqual([]);
    expect(t.retransmissions).toBe(4);
  });

  it('retries 0 gives up on the first timeout', () => {
    const t = make({ length: 1, retries: 0 });
    t.start();
    expect(kinds(t.onTimeout())).toEqual(['give-up']);
  });

  it('client ERROR aborts; nothing more is sent', () => {
    const t = make({ length: 5000, oack: true });
    t.start();
    expect(t.onError()).toEqual([]);
    expect(t.state).toBe('aborted');
    expect(t.onAck(0)).toEqual([]);
    expect(t.onTimeout()).toEqual([]);
    expect(t.finished).toBe(true);
  });

  describe('windowsize (RFC 7440)', () => {
    it('sends a window, slides on the last ACK, shortens at the end', () => {
      const t = make({ length: 512 * 9 + 10, windowsize: 4, oack: true });
      t.start();
      expect(blocks(t.onAck(0))).toEqual([1, 2, 3, 4]);
      expect(blocks(t.onAck(4))).toEqual([5, 6, 7, 8]);
      expect(blocks(t.onAck(8))).toEqual([9, 10]);
      expect(kinds(t.onAck(10))).toEqual(['complete']);
    });

    it('an ACK inside the window restarts the window after it', () => {
      const t = make({ length: 512 * 20, windowsize: 4 });
      expect(blocks(t.start())).toEqual([1, 2, 3, 4]);
      expect(blocks(t.onAck(2))).toEqual([3, 4, 5, 6]);
      expect(t.onAck(2)).toEqual([]);
      expect(t.onAck(1)).toEqual([]);
      expect(blocks(t.onTimeout())).toEqual([3, 4, 5, 6]);
      expect(blocks(t.onAck(6))).toEqual([7, 8, 9, 10]);
    });
  });

  describe('block number wrap-around', () => {
    it('lock-step: block 65535 is followed by block 0, and ACK 0 then means block 65536', () => {
      const total = 65536 + 3; // blocks 1..65539
      const t = make({ length: 8 * (total - 1), blksize: 8 });
      expect(t.totalBlocks).toBe(total);
      let actions = t.start();
      for (let i = 1; i < 65535; i++) actions = t.onAck(i);
      expect(actions).toEqual([{ kind: 'data', block: 65535, index: 65535, offset: 65534 * 8, length: 8 }]);
      expect(t.onAck(65535)).toEqual([{ kind: 'data', block: 0, index: 65536, offset: 65535 * 8, length: 8 }]);
      expect(t.onAck(65535)).toEqual([]); // old ACK
      expect(blocks(t.onAck(0))).toEqual([1]);
      expect(t.onAck(0)).toEqual([]);
      expect(t.onAck(65535)).toEqual([]);
      expect(blocks(t.onAck(1))).toEqual([2]);
      expect(t.onAck(2)).toEqual([{ kind: 'data', block: 3, index: 65539, offset: 65538 * 8, length: 0 }]);
      expect(kinds(t.onAck(3))).toEqual(['complete']);
      expect(t.bytesAcknowledged).toBe(8 * 65538);
    });

    it('a window spanning the wrap numbers blocks 65534, 65535, 0, 1', () => {
      const t = make({ length: 8 * 70000, blksize: 8, windowsize: 4, oack: true });
      t.start();
      t.onAck(0);
      for (let acked = 4; acked < 65533; acked += 4) t.onAck(acked & 0xffff);
      const actions = t.onAck(65533);
      expect(blocks(actions)).toEqual([65534, 65535, 0, 1]);
      expect(actions.map((a) => (a.kind === 'data' ? a.index : 0))).toEqual([65534, 65535, 65536, 65537]);
      expect(blocks(t.onAck(0))).toEqual([1, 2, 3, 4]); // partial ACK of index 65536
      expect(blocks(t.onAck(4))).toEqual([5, 6, 7, 8]);
    });
  });

  it('random ACK sequences never send past the end and never re-send on stale ACKs', () => {
    let seed = 12345;
    const violations: string[] = [];
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    for (let run = 0; run < 300; run++) {
      const blksize = 8 + Math.floor(rnd() * 64);
      const length = Math.floor(rnd() * 4000);
      const windowsize = 1 + Math.floor(rnd() * 8);
      const oack = rnd() < 0.5;
      const t = make({ length, blksize, windowsize, oack, retries: 3 });
      let highest = 0;
      let acked = oack ? -1 : 0;
      const check = (actions: TftpTransferAction[]): void => {
        for (const a of actions) {
          if (a.kind !== 'data') continue;
          // plain checks: thousands of expect() calls would dominate the run time
          if (a.index <= acked) violations.push(`run ${run}: re-sent acknowledged block ${a.index}`);
          if (a.index > t.totalBlocks) violations.push(`run ${run}: block ${a.index} past the end`);
          if (a.offset + a.length > length || a.length > blksize) violations.push(`run ${run}: bad range`);
          highest = Math.max(highest, a.index);
        }
      };
      check(t.start());
      for (let step = 0; step < 300 && !t.finished; step++) {
        const r = rnd();
        if (r < 0.1) {
          check(t.onTimeout());
        } else if (r < 0.4 && acked >= 0) {
          if (t.onAck(acked & 0xffff).length > 0) violations.push(`run ${run}: stale ACK ${acked} answered`);
        } else {
          // ACK some block of the outstanding window (in-window partial ACKs included)
          const target = acked + 1 + Math.floor(rnd() * (highest - acked));
          const actions = t.onAck(target & 0xffff);
          check(actions);
          acked = target;
          if (target === t.totalBlocks && actions[0]?.kind !== 'complete') violations.push(`run ${run}: no complete`);
        }
      }
      if (!t.finished && t.state !== 'sending' && t.state !== 'awaiting-oack-ack') violations.push(`run ${run}: state`);
    }
    expect(violations).toEqual([]);
  });

  it('rejects invalid parameters', () => {
    expect(() => make({ blksize: 7 })).toThrow(RangeError);
    expect(() => make({ windowsize: 0 })).toThrow(RangeError);
    expect(() => make({ length: -1 })).toThrow(RangeError);
    expect(() => make({ retries: -1 })).toThrow(RangeError);
  });
});
