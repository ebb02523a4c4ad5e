import * as dgram from 'node:dgram';
import { Worker } from 'node:worker_threads';
import { ackWord, decodeTftp, encodeAck, encodeError } from '../../src/protocols/tftp/tftp.codec';
import { TftpOpcode } from '../../src/protocols/tftp/tftp.constants';
import { loadNativeBinding } from '../../src/modules/pxe-boot/net/native-binding';
import { openTftpTransferSocket, type TftpEndpoint, type TftpTransferSocket } from '../../src/modules/pxe-boot/tftp/tftp-transfer-socket';

/** A loopback peer that queues what it receives. */
async function peerSocket(): Promise<{ socket: dgram.Socket; port: number; next: (timeoutMs?: number) => Promise<Buffer> }> {
  const socket = dgram.createSocket('udp4');
  const queue: Buffer[] = [];
  const waiters: Array<(b: Buffer) => void> = [];
  socket.on('message', (m) => {
    const w = waiters.shift();
    if (w) w(m);
    else queue.push(m);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const next = (timeoutMs = 5000): Promise<Buffer> => {
    const q = queue.shift();
    if (q) return Promise.resolve(q);
    return new Promise((resolve, reject) => {
      const waiter = (b: Buffer): void => {
        clearTimeout(timer);
        resolve(b);
      };
      // A waiter that timed out leaves the queue, so the next datagram goes to the next caller.
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(waiter), 1);
        reject(new Error(`no datagram within ${timeoutMs} ms`));
      }, timeoutMs);
      waiters.push(waiter);
    });
  };
  return { socket, port: socket.address().port, next };
}

const send = (s: dgram.Socket, buf: Buffer, port: number): Promise<void> =>
  new Promise((resolve, reject) => s.send(buf, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));

/** Polls until `probe()` holds (no fixed sleeps). */
async function until(probe: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

// The native socket (dls_net addon) and the dgram fallback carry the same contract.
describe.each([
  ['native', true],
  ['dgram', false],
])('TftpTransferSocket (%s)', (kind, preferNative) => {
  let peer: Awaited<ReturnType<typeof peerSocket>>;
  let socket: TftpTransferSocket;
  const received: Array<{ buf: Buffer; from?: TftpEndpoint; preSent?: true; chained?: number }> = [];
  const errors: Error[] = [];

  beforeEach(async () => {
    received.length = 0;
    errors.length = 0;
    peer = await peerSocket();
    socket = await openTftpTransferSocket(
      '127.0.0.1',
      { address: '127.0.0.1', port: peer.port },
      // copy: the buffer may be a view that the next datagram overwrites
      {
        onMessage: (buf, from, preSent, chained) =>
          received.push({
            buf: Buffer.from(buf),
            ...(from ? { from } : {}),
            ...(preSent ? { preSent } : {}),
            ...(chained > 0 ? { chained } : {}),
          }),
        onError: (e) => errors.push(e),
      },
      preferNative,
    );
  });

  afterEach(async () => {
    await socket.close();
    peer.socket.close();
  });

  it(`is the ${kind} implementation`, () => {
    expect(socket.kind).toBe(kind);
    expect(socket.port).toBeGreaterThan(0);
  });

  it('sends a window as consecutive DATA blocks, the last one short, then an empty block for an exact multiple', async () => {
    const data = Buffer.from(Array.from({ length: 20 }, (_, i) => i));
    socket.sendBlocks(data, 1, 3, 8); // 8 + 8 + 4 bytes
    const blocks = [await peer.next(), await peer.next(), await peer.next()].map((b) => decodeTftp(b));
    expect(blocks).toEqual([
      { opcode: TftpOpcode.DATA, block: 1, data: data.subarray(0, 8) },
      { opcode: TftpOpcode.DATA, block: 2, data: data.subarray(8, 16) },
      { opcode: TftpOpcode.DATA, block: 3, data: data.subarray(16, 20) },
    ]);
    const exact = Buffer.alloc(16, 7);
    socket.sendBlocks(exact, 2, 2, 8); // block 3 of a 16-byte file at blksize 8 is empty (RFC 1350 §6)
    expect(decodeTftp(await peer.next())).toEqual({ opcode: TftpOpcode.DATA, block: 2, data: exact.subarray(8, 16) });
    expect(decodeTftp(await peer.next())).toEqual({ opcode: TftpOpcode.DATA, block: 3, data: Buffer.alloc(0) });
  });

  it('wire block numbers wrap past 65535 while offsets keep counting', async () => {
    const data = Buffer.alloc(65_538 * 8);
    for (let i = 0; i < 65_538; i++) data.writeUInt32BE(i + 1, i * 8); // each block starts with its absolute index
    socket.sendBlocks(data, 65_535, 3, 8);
    const blocks = [await peer.next(), await peer.next(), await peer.next()].map((b) => decodeTftp(b));
    expect(blocks.map((p) => (p.opcode === TftpOpcode.DATA ? [p.block, p.data.readUInt32BE(0)] : null))).toEqual([
      [65_535, 65_535],
      [0, 65_536],
      [1, 65_537],
    ]);
  });

  it('reports datagrams from the peer without an endpoint, from anyone else with theirs; answers them with sendTo', async () => {
    await send(peer.socket, encodeAck(7), socket.port);
    const stranger = await peerSocket();
    try {
      await send(stranger.socket, encodeAck(9), socket.port);
      await until(() => received.length === 2, 'two datagrams');
      expect(received[0]).toEqual({ buf: encodeAck(7) });
      expect(received[1]).toEqual({ buf: encodeAck(9), from: { address: '127.0.0.1', port: stranger.port } });
      socket.sendTo(encodeError(5, 'Unknown transfer ID'), received[1].from!);
      expect(decodeTftp(await stranger.next())).toMatchObject({ opcode: TftpOpcode.ERROR, code: 5 });
    } finally {
      stranger.socket.close();
    }
  });

  it('a datagram longer than a client ever sends is handed over as malformed (empty), not cut', async () => {
    await send(peer.socket, Buffer.alloc(3000, 1), socket.port);
    await send(peer.socket, encodeAck(1), socket.port);
    await until(() => received.length === 2, 'two datagrams');
    if (kind === 'native') expect(received[0].buf.length).toBe(0);
    else expect(received[0].buf.length).toBe(3000); // dgram reads any size; the decoder judges it
    expect(received[1].buf).toEqual(encodeAck(1));
  });

  it('armReply: the exact trigger from the peer sends the armed blocks first (native), once; anything else does not', async () => {
    const data = Buffer.from(Array.from({ length: 40 }, (_, i) => i));
    const armed = socket.armReply(ackWord(2), data, 3, 2, 8);
    expect(armed).toBe(kind === 'native');
    await send(peer.socket, Buffer.concat([encodeAck(2), Buffer.from([0])]), socket.port); // padded: not the trigger
    await send(peer.socket, encodeAck(1), socket.port); // another block: not the trigger
    await send(peer.socket, encodeAck(2), socket.port); // the trigger
    await send(peer.socket, encodeAck(2), socket.port); // again: one-shot, nothing more
    await until(() => received.length === 4, 'four datagrams');
    expect(received.map((r) => r.preSent === true)).toEqual([false, false, kind === 'native', false]);
    if (kind === 'native') {
      const blocks = [await peer.next(), await peer.next()].map((b) => decodeTftp(b));
      expect(blocks).toEqual([
        { opcode: TftpOpcode.DATA, block: 3, data: data.subarray(16, 24) },
        { opcode: TftpOpcode.DATA, block: 4, data: data.subarray(24, 32) },
      ]);
      // sendBlocks can arm in the same call: block 5 now, block 5's ACK then brings block 6 at once
      socket.sendBlocks(data, 5, 1, 8, { trigger: ackWord(5), firstIndex: 6, count: 1 });
      expect(decodeTftp(await peer.next())).toMatchObject({ opcode: TftpOpcode.DATA, block: 5 });
      await send(peer.socket, encodeAck(5), socket.port);
      expect(decodeTftp(await peer.next())).toMatchObject({ opcode: TftpOpcode.DATA, block: 6 });
      await until(() => received.length === 5, 'a fifth datagram');
      expect(received[4].preSent).toBe(true);
      socket.armReply(ackWord(4), data, 5, 1, 8);
      socket.armReply(0, data, 1, 0, 8); // disarmed
      await send(peer.socket, encodeAck(4), socket.port);
      await until(() => received.length === 6, 'a sixth datagram');
      expect(received[5].preSent).toBeUndefined();
    }
    await expect(peer.next(200)).rejects.toThrow(/no datagram/);
  });

  it('setChain: after an armed window the socket answers the next expected ACK by itself, within its budget', async () => {
    const data = Buffer.from(Array.from({ length: 40 }, (_, i) => i)); // blksize 8: blocks 1-5 full, block 6 empty
    const blocks = async (n: number): Promise<number[]> => {
      const out: number[] = [];
      for (let i = 0; i < n; i++) {
        const p = decodeTftp(await peer.next());
        out.push(p.opcode === TftpOpcode.DATA ? p.block : -1);
      }
      return out;
    };
    socket.armReply(ackWord(2), data, 3, 2, 8);
    socket.setChain(2, 6, 1);
    if (kind !== 'native') {
      await send(peer.socket, encodeAck(2), socket.port);
      await until(() => received.length === 1, 'the ACK');
      expect(received[0]).toEqual({ buf: encodeAck(2) }); // dgram: nothing pre-sent, nothing chained
      expect(socket.takeChained()).toBe(0);
      await expect(peer.next(200)).rejects.toThrow(/no datagram/);
      return;
    }
    await send(peer.socket, encodeAck(2), socket.port); // armed: 3, 4 leave; chained (budget 1), JS not called
    expect(await blocks(2)).toEqual([3, 4]);
    await send(peer.socket, encodeAck(4), socket.port); // chained arm: 5, 6 leave; budget spent, so JS hears
    expect(await blocks(2)).toEqual([5, 6]);
    await until(() => received.length === 1, 'the report');
    expect(received[0]).toEqual({ buf: encodeAck(4), preSent: true, chained: 1 });
    await send(peer.socket, encodeAck(6), socket.port); // past the last block: nothing armed, reported plainly
    await until(() => received.length === 2, 'the last ACK');
    expect(received[1]).toEqual({ buf: encodeAck(6) });
    await expect(peer.next(200)).rejects.toThrow(/no datagram/);

    // A larger budget: the count waits for takeChained (the timer's check) or the next report, whichever is first.
    socket.armReply(ackWord(2), data, 3, 2, 8);
    socket.setChain(2, 6, 5);
    await send(peer.socket, encodeAck(2), socket.port);
    expect(await blocks(2)).toEqual([3, 4]);
    expect(socket.takeChained()).toBe(1);
    expect(socket.takeChained()).toBe(0);
    await send(peer.socket, encodeAck(3), socket.port); // mid-window: not the armed ACK, goes to JS, nothing sent
    await until(() => received.length === 3, 'the mid-window ACK');
    expect(received[2]).toEqual({ buf: encodeAck(3) });
    await expect(peer.next(200)).rejects.toThrow(/no datagram/);
  });

  it('close(last) delivers the final datagram, then sends nothing more', async () => {
    await socket.close(encodeError(0, 'Transfer timed out'));
    expect(decodeTftp(await peer.next())).toMatchObject({ opcode: TftpOpcode.ERROR, message: 'Transfer timed out' });
    socket.send(encodeAck(1)); // ignored after close
    socket.sendBlocks(Buffer.alloc(8), 1, 1, 8);
    await expect(peer.next(200)).rejects.toThrow(/no datagram/);
    expect(errors).toEqual([]);
  });
});

/**
 * A TFTP client's ACK side in a worker thread (its own event loop, so it answers while the main thread is busy in the
 * native socket): ACKs each DATA block after `delayMs` (0: at once) and reports the blocks it got.
 */
async function ackingPeer(delayMs: number, slowEvery = 1): Promise<{ port: number; blocks: () => Promise<Buffer[]>; stop: () => Promise<number> }> {
  const worker = new Worker(
    `
    const dgram = require('node:dgram');
    const { parentPort, workerData } = require('node:worker_threads');
    const s = dgram.createSocket('udp4');
    const got = [];
    s.on('message', (m, r) => {
      got.push(Buffer.from(m));
      const ack = Buffer.from([0, 4, m[2], m[3]]);
      const reply = () => s.send(ack, r.port, r.address);
      const block = m.readUInt16BE(2);
      if (workerData.delayMs > 0 && block % workerData.slowEvery === 0) setTimeout(reply, workerData.delayMs); else reply();
    });
    parentPort.on('message', (msg) => {
      if (msg === 'blocks') parentPort.postMessage(got);
      if (msg === 'stop') s.close(() => parentPort.close());
    });
    s.bind(0, '127.0.0.1', () => parentPort.postMessage(s.address().port));
    `,
    { eval: true, workerData: { delayMs, slowEvery } },
  );
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return {
    port,
    blocks: () =>
      new Promise((resolve) => {
        worker.once('message', (got: Uint8Array[]) => resolve(got.map((b) => Buffer.from(b))));
        worker.postMessage('blocks');
      }),
    stop: () => {
      worker.postMessage('stop');
      return new Promise((resolve) => worker.once('exit', resolve));
    },
  };
}

describe('TftpTransferSocket (native): GSO windows and the lone transfer spin', () => {
  const binding = loadNativeBinding();
  const open: TftpTransferSocket[] = [];
  let lastAck: Buffer | undefined;
  const openTo = async (port: number): Promise<TftpTransferSocket> => {
    const s = await openTftpTransferSocket(
      '127.0.0.1',
      { address: '127.0.0.1', port },
      {
        onMessage: (buf) => (lastAck = Buffer.from(buf)),
        onError: (e) => {
          throw e;
        },
      },
    );
    expect(s.kind).toBe('native');
    open.push(s);
    return s;
  };
  /** A lock-step transfer of `data` (blksize 512) driven by the socket's chaining; resolves once the last ACK is in. */
  const lockStep = async (s: TftpTransferSocket, data: Buffer, spinMicros: number): Promise<number> => {
    const total = Math.floor(data.length / 512) + 1;
    lastAck = undefined;
    s.sendBlocks(data, 1, 1, 512, { trigger: ackWord(1), firstIndex: 2, count: 1 });
    s.setChain(1, total, 65_536, spinMicros);
    await until(() => lastAck !== undefined && lastAck.equals(encodeAck(total)), `the ACK of block ${total}`);
    return total;
  };

  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
    binding.TransferSocket.setGso(true);
  });

  it.each([
    ['one GSO send per window', true],
    ['sendmmsg', false],
  ])('a window of 64 full blocks and a short one arrives as its datagrams, in order (%s)', async (_name, gso) => {
    binding.TransferSocket.setGso(gso);
    const peer = await peerSocket();
    try {
      const s = await openTo(peer.port);
      const data = Buffer.from(Array.from({ length: 64 * 1468 + 100 }, (_, i) => (i * 7) & 0xff));
      s.sendBlocks(data, 1, 65, 1468);
      const got: Buffer[] = [];
      for (let i = 0; i < 65; i++) got.push(await peer.next());
      got.forEach((b, i) => {
        expect(b.length).toBe(i < 64 ? 1472 : 104);
        expect(decodeTftp(b)).toEqual({ opcode: TftpOpcode.DATA, block: i + 1, data: data.subarray(i * 1468, (i + 1) * 1468) });
      });
      // 64 KiB per GSO send: 44 datagrams of 1472 bytes, then the other 21.
      expect(s.stats!().gsoSends).toBe(gso ? 2 : 0);
      await expect(peer.next(200)).rejects.toThrow(/no datagram/);
    } finally {
      peer.socket.close();
    }
  });

  it('a lone transfer waits for its ACKs by spinning; the peer gets every block once, in order', async () => {
    const peer = await ackingPeer(0);
    try {
      const s = await openTo(peer.port);
      const data = Buffer.from(Array.from({ length: 300 * 512 + 5 }, (_, i) => (i * 13) & 0xff));
      const total = await lockStep(s, data, 5000);
      const blocks = (await peer.blocks()).map((b) => decodeTftp(b));
      expect(blocks).toHaveLength(total);
      blocks.forEach((p, i) => expect(p).toEqual({ opcode: TftpOpcode.DATA, block: i + 1, data: data.subarray(i * 512, (i + 1) * 512) }));
      const { spinHits } = s.stats!();
      // The worker answers within microseconds to 5 ms: most waits are served by the spin (a busy machine may
      // deschedule the worker now and then: those waits end in the event loop instead).
      expect(spinHits).toBeGreaterThan(total / 2);
    } finally {
      await peer.stop();
    }
  });

  it('no spinning while another transfer socket is open, nor with spinMicros 0', async () => {
    const peer = await ackingPeer(0);
    const idle = await peerSocket();
    try {
      const data = Buffer.alloc(100 * 512 + 1, 3);
      const s = await openTo(peer.port);
      await lockStep(s, data, 0);
      expect(s.stats!()).toMatchObject({ spinHits: 0, spinMisses: 0 });
      await openTo(idle.port); // a second transfer: spinning would take the CPU from it
      const t = await openTo(peer.port);
      await lockStep(t, data, 2000);
      expect(t.stats!()).toMatchObject({ spinHits: 0, spinMisses: 0 });
    } finally {
      idle.socket.close();
      await peer.stop();
    }
  });

  it('a peer slower than the budget stops the spinning after one wait ran out', async () => {
    const peer = await ackingPeer(3); // 3 ms per ACK, budget 200 µs
    try {
      const s = await openTo(peer.port);
      const total = await lockStep(s, Buffer.alloc(20 * 512 + 1, 9), 200);
      expect(total).toBe(21);
      expect(s.stats!()).toMatchObject({ spinHits: 0, spinMisses: 1 });
    } finally {
      await peer.stop();
    }
  });

  it('a peer slow now and then: spinning resumes after a fast answer, and stops for good after 8 waits ran out', async () => {
    const peer = await ackingPeer(10, 4); // every 4th ACK 10 ms late, the others at once; budget 2 ms
    try {
      const s = await openTo(peer.port);
      const total = await lockStep(s, Buffer.alloc(80 * 512 + 1, 5), 2000);
      expect(total).toBe(81);
      const { spinHits, spinMisses } = s.stats!();
      expect(spinMisses).toBe(8); // 20 slow ACKs, but only 8 waits are spent on them
      expect(spinHits).toBeGreaterThan(0);
    } finally {
      await peer.stop();
    }
  });
});

describe('TftpTransferSocket (native): the event loop keeps polling while two transfers or more are open', () => {
  const binding = loadNativeBinding();
  const loopSpin = (): { spins: number; iterations: number; yields: number; running: boolean } => binding.TransferSocket.loopSpinStats();
  const open: TftpTransferSocket[] = [];
  /** A socket to `port` whose last datagram is kept (`last()`), and the datagrams from strangers counted. */
  const openTo = async (port: number): Promise<{ s: TftpTransferSocket; last: () => Buffer | undefined; strangers: () => number }> => {
    let last: Buffer | undefined;
    let strangers = 0;
    const s = await openTftpTransferSocket(
      '127.0.0.1',
      { address: '127.0.0.1', port },
      {
        onMessage: (buf, from) => {
          last = Buffer.from(buf);
          if (from) strangers++;
        },
        onError: (e) => {
          throw e;
        },
      },
    );
    expect(s.kind).toBe('native');
    open.push(s);
    return { s, last: () => last, strangers: () => strangers };
  };
  /** A lock-step transfer of `data` (blksize 512) driven by the socket's chaining; resolves once the last ACK is in. */
  const lockStep = async (t: { s: TftpTransferSocket; last: () => Buffer | undefined }, data: Buffer, spinMicros: number): Promise<number> => {
    const total = Math.floor(data.length / 512) + 1;
    t.s.sendBlocks(data, 1, 1, 512, { trigger: ackWord(1), firstIndex: 2, count: 1 });
    t.s.setChain(1, total, 65_536, spinMicros);
    await until(() => t.last()?.equals(encodeAck(total)) === true, `the ACK of block ${total}`);
    return total;
  };
  const data = Buffer.from(Array.from({ length: 200 * 512 + 7 }, (_, i) => (i * 11) & 0xff));

  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });

  it('two lock-step transfers: the loop polls between their ACKs, yields when nothing came, and both peers get every block', async () => {
    const peers = [await ackingPeer(0), await ackingPeer(0)];
    try {
      const before = loopSpin();
      const transfers = [await openTo(peers[0].port), await openTo(peers[1].port)];
      const totals = await Promise.all(transfers.map((t) => lockStep(t, data, 2000)));
      const after = loopSpin();
      expect(after.spins).toBeGreaterThan(before.spins);
      expect(after.iterations).toBeGreaterThan(before.iterations);
      // An iteration that found no datagram gives the CPU away: the transfers' own gaps make some.
      expect(after.yields).toBeGreaterThan(before.yields);
      for (const [i, peer] of peers.entries()) {
        const blocks = (await peer.blocks()).map((b) => decodeTftp(b));
        expect(blocks).toHaveLength(totals[i]);
        blocks.forEach((p, j) => expect(p).toEqual({ opcode: TftpOpcode.DATA, block: j + 1, data: data.subarray(j * 512, (j + 1) * 512) }));
      }
      // The lone transfer's own spin is not used with two open.
      for (const t of transfers) expect(t.s.stats!()).toMatchObject({ spinHits: 0, spinMisses: 0 });
    } finally {
      await Promise.all(peers.map((p) => p.stop()));
    }
  });

  it('polling stops within its budget once the transfers are quiet, and datagrams from a stranger do not keep it up', async () => {
    const peers = [await ackingPeer(0), await ackingPeer(0)];
    const stranger = await peerSocket();
    try {
      const transfers = [await openTo(peers[0].port), await openTo(peers[1].port)];
      await Promise.all(transfers.map((t) => lockStep(t, data, 2000)));
      // Both sockets stay open but nothing arrives: the loop goes back to sleeping in its poll.
      await until(() => !loopSpin().running, 'the loop to stop polling');
      const quiet = loopSpin();
      // A stranger sprays one transfer's port (wrong TID): each datagram may start a spin of one budget, no more.
      const port = transfers[0].s.port;
      for (let i = 0; i < 50; i++) await send(stranger.socket, encodeAck(1), port);
      await until(() => transfers[0].strangers() === 50, 'the 50 datagrams to be handled');
      await until(() => !loopSpin().running, 'the loop to stop polling after the spray');
      const sprayed = loopSpin();
      expect(sprayed.spins - quiet.spins).toBeLessThanOrEqual(50);
      // Quiet again: over the next 200 ms the loop does not poll at all (a spin would count iterations).
      await new Promise((r) => setTimeout(r, 200));
      expect(loopSpin()).toMatchObject({ iterations: sprayed.iterations, running: false });
    } finally {
      stranger.socket.close();
      await Promise.all(peers.map((p) => p.stop()));
    }
  });

  it('never with one transfer (its own spin serves it) nor with spinMicros 0', async () => {
    const peers = [await ackingPeer(0), await ackingPeer(0)];
    try {
      const before = loopSpin();
      const lone = await openTo(peers[0].port);
      await lockStep(lone, data, 2000);
      expect(loopSpin().spins).toBe(before.spins);
      await lone.s.close();
      const pair = [await openTo(peers[0].port), await openTo(peers[1].port)];
      await Promise.all(pair.map((t) => lockStep(t, data, 0)));
      expect(loopSpin().spins).toBe(before.spins);
    } finally {
      await Promise.all(peers.map((p) => p.stop()));
    }
  });
});

describe('TftpTransferSocket (native): lock-step blocks of concurrent transfers leave together (io_uring)', () => {
  const binding = loadNativeBinding();
  const ring = (): { available: boolean; submits: number; sends: number; failed: number } => binding.TransferSocket.ringStats();
  const open: TftpTransferSocket[] = [];
  const openTo = async (port: number, onMessage?: (s: TftpTransferSocket, buf: Buffer, preSent: boolean) => void) => {
    let last: Buffer | undefined;
    const s: TftpTransferSocket = await openTftpTransferSocket(
      '127.0.0.1',
      { address: '127.0.0.1', port },
      {
        onMessage: (buf, _from, preSent) => {
          last = Buffer.from(buf);
          onMessage?.(s, last, preSent === true);
        },
        onError: (e) => {
          throw e;
        },
      },
    );
    open.push(s);
    return { s, last: () => last };
  };
  const data = Buffer.from(Array.from({ length: 150 * 512 + 3 }, (_, i) => (i * 17) & 0xff));
  const total = Math.floor(data.length / 512) + 1;
  const lockStep = async (t: Awaited<ReturnType<typeof openTo>>): Promise<void> => {
    t.s.sendBlocks(data, 1, 1, 512, { trigger: ackWord(1), firstIndex: 2, count: 1 });
    t.s.setChain(1, total, 65_536, 100);
    await until(() => t.last()?.equals(encodeAck(total)) === true, `the ACK of block ${total}`);
  };
  const expectEveryBlock = async (peer: Awaited<ReturnType<typeof ackingPeer>>): Promise<void> => {
    const blocks = (await peer.blocks()).map((b) => decodeTftp(b));
    expect(blocks).toHaveLength(total);
    blocks.forEach((p, j) => expect(p).toEqual({ opcode: TftpOpcode.DATA, block: j + 1, data: data.subarray(j * 512, (j + 1) * 512) }));
  };

  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
    binding.TransferSocket.setRing(true);
  });

  it('io_uring is usable on this test machine (else every other test here would only prove the fallback)', () => {
    expect(ring().available).toBe(true);
  });

  it.each([
    ['through the ring', true],
    ['each at once (ring off)', false],
  ])('three lock-step transfers at once: every peer gets every block, in order (%s)', async (_name, on) => {
    binding.TransferSocket.setRing(on);
    const peers = [await ackingPeer(0), await ackingPeer(0), await ackingPeer(0)];
    try {
      const before = ring();
      const transfers = await Promise.all(peers.map((p) => openTo(p.port)));
      await Promise.all(transfers.map((t) => lockStep(t)));
      for (const peer of peers) await expectEveryBlock(peer);
      const after = ring();
      if (on) {
        // Nearly every block after the first answers an ACK with two other transfers open: it goes through the ring,
        // several per system call whenever ACKs of different transfers were ready together.
        expect(after.sends - before.sends).toBeGreaterThan(total);
        expect(after.submits - before.submits).toBeLessThanOrEqual(after.sends - before.sends);
        expect(after.failed).toBe(before.failed);
      } else {
        expect(after).toEqual(before);
      }
    } finally {
      await Promise.all(peers.map((p) => p.stop()));
    }
  });

  it('a block still queued when the handler closes the socket with a final datagram leaves first, then that datagram', async () => {
    const bystander = await peerSocket(); // a second open transfer: lone blocks would not be queued
    const peer = await peerSocket();
    try {
      await openTo(bystander.port);
      const error = encodeError(0, 'stop');
      const t = await openTo(peer.port, (s, buf, preSent) => {
        // Block 2 was queued when ACK 1 arrived; it must reach the peer before this ERROR, and before the fd closes.
        if (preSent && buf.equals(encodeAck(1))) void s.close(error);
      });
      const before = ring();
      t.s.sendBlocks(data, 1, 1, 512, { trigger: ackWord(1), firstIndex: 2, count: 1 });
      expect(decodeTftp(await peer.next())).toMatchObject({ opcode: TftpOpcode.DATA, block: 1 });
      await send(peer.socket, encodeAck(1), t.s.port);
      expect(decodeTftp(await peer.next())).toEqual({ opcode: TftpOpcode.DATA, block: 2, data: data.subarray(512, 1024) });
      expect((await peer.next()).equals(error)).toBe(true);
      expect(ring().sends - before.sends).toBe(1);
      await expect(peer.next(200)).rejects.toThrow(/no datagram/);
    } finally {
      bystander.socket.close();
      peer.socket.close();
    }
  });
});
