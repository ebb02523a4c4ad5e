import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as dgram from 'node:dgram';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { encodeAck, encodeRrq, encodeWrq, toNetascii } from '../../src/protocols/tftp/tftp.codec';
import { TftpErrorCode, TftpOpcode } from '../../src/protocols/tftp/tftp.constants';
import { TftpServer, type TftpTransferEndEvent } from '../../src/modules/pxe-boot/tftp/tftp.server';
import { tftpGet, TftpRawPeer } from './tftp-client';

const execFileAsync = promisify(execFile);
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Polls `condition` until it holds or the deadline passes (no fixed sleeps). */
async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

// Every test runs twice: on the dls_net addon's transfer sockets (the default for IPv4) and on Node's dgram (the
// fallback for IPv6 or a missing addon); both must behave the same on the wire.
describe.each([
  ['native', true],
  ['dgram', false],
])('TftpServer on loopback (%s transfer sockets)', (_kind, nativeSockets) => {
  let root: string;
  let outDir: string;
  let server: TftpServer;
  let port: number;
  const ends: TftpTransferEndEvent[] = [];
  const files = new Map<string, Buffer>();

  const curlGet = async (file: string, extra: string[] = []): Promise<Buffer> => {
    const out = path.join(outDir, `curl-${Math.random().toString(36).slice(2)}`);
    await execFileAsync('curl', ['--silent', '--show-error', '--max-time', '60', ...extra, '--output', out, `tftp://127.0.0.1:${port}/${file}`], {
      timeout: 90_000,
    });
    return fs.readFile(out);
  };

  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), `dls-tftp-${process.pid}-`));
    outDir = await fs.mkdtemp(path.join(os.tmpdir(), `dls-tftp-out-${process.pid}-`));
    files.set('empty.bin', Buffer.alloc(0));
    files.set('b512.bin', randomBytes(512));
    files.set('b1537.bin', randomBytes(512 * 3 + 1));
    files.set('loader.efi', randomBytes(850_528)); // the size of Debian's ipxe.efi
    files.set('big.bin', randomBytes(1_200_000)); // above maxCachedFileBytes: streamed from disk
    files.set('wrap.bin', randomBytes(8 * 65_540)); // 65541 blocks of 8 bytes
    files.set('text.txt', Buffer.from('line one\nline two\r\nbare\rcr\n'));
    files.set('sub/inner.bin', randomBytes(1000));
    for (const [name, data] of files) {
      await fs.mkdir(path.dirname(path.join(root, name)), { recursive: true });
      await fs.writeFile(path.join(root, name), data);
    }
    await fs.symlink('b512.bin', path.join(root, 'link-in'));
    await fs.symlink('/etc/passwd', path.join(root, 'link-out'));
    await fs.symlink('/etc', path.join(root, 'etc-link'));

    server = new TftpServer({
      root,
      bindAddress: '127.0.0.1',
      port: 0,
      timeoutMs: 2000,
      retries: 3,
      maxWindowsize: 32,
      maxCachedFileBytes: 1024 * 1024,
      nativeSockets,
      onTransferEnd: (e) => ends.push(e),
    });
    port = (await server.start()).port;
  });

  afterAll(async () => {
    await server?.stop();
    await fs.rm(root, { recursive: true, force: true });
    await fs.rm(outDir, { recursive: true, force: true });
  });

  describe('downloads with curl', () => {
    it.each(['b512.bin', 'b1537.bin'])('%s (default blksize 512)', async (name) => {
      expect(sha256(await curlGet(name))).toBe(sha256(files.get(name)!));
    });

    it('empty.bin without options (curl 7.88 rejects the correct OACK "tsize 0" as invalid)', async () => {
      expect((await curlGet('empty.bin', ['--tftp-no-options'])).length).toBe(0);
    });

    it('an 830 KiB loader with --tftp-blksize 1432, twice (second from the cache)', async () => {
      const hitsBefore = server.stats().cacheHits;
      expect(sha256(await curlGet('loader.efi', ['--tftp-blksize', '1432']))).toBe(sha256(files.get('loader.efi')!));
      expect(sha256(await curlGet('loader.efi', ['--tftp-blksize', '1432']))).toBe(sha256(files.get('loader.efi')!));
      expect(server.stats().cacheHits).toBeGreaterThan(hitsBefore);
    });

    it('a leading slash is relative to the root, and a symlink inside the root is followed', async () => {
      expect(sha256(await curlGet('/sub/inner.bin'))).toBe(sha256(files.get('sub/inner.bin')!));
      expect(sha256(await curlGet('link-in'))).toBe(sha256(files.get('b512.bin')!));
    });
  });

  describe('raw client with options', () => {
    it('OVMF sequence: tsize probe → OACK → ERROR 8, then the real windowed transfer', async () => {
      const aborted = server.stats().transfersAborted;
      const probe = await tftpGet({
        host: '127.0.0.1',
        port,
        file: 'loader.efi',
        options: { tsize: '0', blksize: '1468', windowsize: '4' },
        probeOnly: true,
      });
      expect([...probe.oack!]).toEqual([
        ['tsize', '850528'],
        ['blksize', '1468'],
        ['windowsize', '4'],
      ]);
      await waitFor(() => server.stats().transfersAborted === aborted + 1, 'the probe to end');
      expect(ends.at(-1)).toMatchObject({ ok: false, abortedByClient: true, file: 'loader.efi' });
      expect(ends.at(-1)!.error).toContain('ERROR 8');

      const real = await tftpGet({
        host: '127.0.0.1',
        port,
        file: 'loader.efi',
        options: { blksize: '1468', windowsize: '4' },
      });
      expect([...real.oack!]).toEqual([
        ['blksize', '1468'],
        ['windowsize', '4'],
      ]);
      expect(real.blocks).toBe(580); // as measured with OVMF: 850528 / 1468 → 580 blocks
      expect(sha256(real.data)).toBe(sha256(files.get('loader.efi')!));
    });

    it('iPXE undionly sequence: blksize 1432 tsize 0', async () => {
      const r = await tftpGet({ host: '127.0.0.1', port, file: 'b1537.bin', options: { blksize: '1432', tsize: '0' } });
      expect([...r.oack!]).toEqual([
        ['blksize', '1432'],
        ['tsize', '1537'],
      ]);
      expect(sha256(r.data)).toBe(sha256(files.get('b1537.bin')!));
    });

    it('a file above the cache limit is streamed from disk (windowsize 8)', async () => {
      const options = { blksize: '1432', windowsize: '8' };
      const r = await tftpGet({ host: '127.0.0.1', port, file: 'big.bin', options });
      expect(sha256(r.data)).toBe(sha256(files.get('big.bin')!));
    });

    it('block numbers wrap past 65535 (blksize 8, 65541 blocks, windowsize 32)', async () => {
      const r = await tftpGet({
        host: '127.0.0.1',
        port,
        file: 'wrap.bin',
        options: { blksize: '8', windowsize: '32', tsize: '0' },
      });
      expect(r.blocks).toBe(65_541);
      expect(sha256(r.data)).toBe(sha256(files.get('wrap.bin')!));
    });

    it('an empty file with tsize: OACK tsize 0, then one empty DATA block', async () => {
      const r = await tftpGet({ host: '127.0.0.1', port, file: 'empty.bin', options: { tsize: '0', blksize: '1432' } });
      expect(r.oack!.get('tsize')).toBe('0');
      expect(r.blocks).toBe(1);
      expect(r.data.length).toBe(0);
    });

    it('netascii mode converts line ends and reports the converted tsize', async () => {
      const r = await tftpGet({ host: '127.0.0.1', port, file: 'text.txt', mode: 'netascii', options: { tsize: '0' } });
      const expected = toNetascii(files.get('text.txt')!);
      expect(r.oack!.get('tsize')).toBe(String(expected.length));
      expect(r.data).toEqual(expected);
    });

    it('20 concurrent transfers all complete intact', async () => {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          tftpGet({
            host: '127.0.0.1',
            port,
            file: 'loader.efi',
            options: i % 2 ? { blksize: '1432' } : { blksize: '1468', windowsize: '4' },
          }),
        ),
      );
      for (const r of results) expect(sha256(r.data)).toBe(sha256(files.get('loader.efi')!));
      expect(new Set(results.map((r) => r.serverPort)).size).toBe(20); // one TID per transfer
      await waitFor(() => server.stats().active === 0, 'transfers to close');
    });

    it('150 concurrent clients (lock-step and windowed, 3 block sizes) all get intact files, one TID each', async () => {
      const results = await Promise.all(
        Array.from({ length: 150 }, (_, i) =>
          tftpGet({
            host: '127.0.0.1',
            port,
            file: i % 5 === 0 ? 'b1537.bin' : 'loader.efi',
            options: [{ blksize: '1468' }, { blksize: '1432', windowsize: '8' }, { blksize: '512', windowsize: '32' }][i % 3],
            timeoutMs: 2000,
          }),
        ),
      );
      results.forEach((r, i) => expect(sha256(r.data)).toBe(sha256(files.get(i % 5 === 0 ? 'b1537.bin' : 'loader.efi')!)));
      expect(new Set(results.map((r) => r.serverPort)).size).toBe(150);
      await waitFor(() => server.stats().active === 0, 'transfers to close');
    });
  });

  describe('windowed protocol details (RFC 7440)', () => {
    it('a lost block: the client re-ACKs the last in-order block and the window restarts right after it', async () => {
      const client = await TftpRawPeer.open();
      try {
        await client.send(encodeRrq('b1537.bin', 'octet', { blksize: '512', windowsize: '3' }), port);
        const oack = await client.next();
        expect(oack.packet).toMatchObject({ opcode: TftpOpcode.OACK });
        const tid = oack.port;
        await client.send(encodeAck(0), tid);
        const first = [await client.next(), await client.next(), await client.next()].map((m) => m.packet);
        expect(first.map((p) => p.opcode === TftpOpcode.DATA && p.block)).toEqual([1, 2, 3]);
        // Block 2 "was lost": the client saw 1, then a gap, so it ACKs 1 (RFC 7440 §4).
        await client.send(encodeAck(1), tid);
        const again = [await client.next(), await client.next(), await client.next()].map((m) => m.packet);
        expect(again.map((p) => p.opcode === TftpOpcode.DATA && p.block)).toEqual([2, 3, 4]);
        const data = Buffer.concat([first[0], ...again].map((p) => (p.opcode === TftpOpcode.DATA ? p.data : Buffer.alloc(0))));
        expect(data).toEqual(files.get('b1537.bin'));
        const ok = server.stats().transfersOk;
        await client.send(encodeAck(4), tid);
        await waitFor(() => server.stats().transfersOk === ok + 1, 'the transfer to complete');
      } finally {
        await client.close();
      }
    });

    it('a lost window: without an ACK the whole window is sent again after the timeout, then the transfer goes on', async () => {
      const client = await TftpRawPeer.open();
      try {
        // timeout 1 s negotiated (RFC 2349), so the retransmission comes quickly
        await client.send(encodeRrq('b1537.bin', 'octet', { blksize: '512', windowsize: '2', timeout: '1' }), port);
        const tid = (await client.next()).port;
        await client.send(encodeAck(0), tid);
        const sentAt = Date.now();
        const blocks = async (n: number): Promise<number[]> => {
          const out: number[] = [];
          for (let i = 0; i < n; i++) {
            const p = (await client.next(5000)).packet;
            out.push(p.opcode === TftpOpcode.DATA ? p.block : -1);
          }
          return out;
        };
        expect(await blocks(2)).toEqual([1, 2]);
        expect(await blocks(2)).toEqual([1, 2]); // nothing ACKed: the same window again
        expect(Date.now() - sentAt).toBeGreaterThanOrEqual(900);
        await client.send(encodeAck(2), tid);
        expect(await blocks(2)).toEqual([3, 4]);
        const ok = server.stats().transfersOk;
        await client.send(encodeAck(4), tid);
        await waitFor(() => server.stats().transfersOk === ok + 1, 'the transfer to complete');
      } finally {
        await client.close();
      }
    });
  });

  describe('lock-step protocol details', () => {
    it('a stall after blocks the socket sent by itself (chaining): the timer counts them as progress, then retransmits', async () => {
      const client = await TftpRawPeer.open();
      try {
        const before = { received: server.stats().received, ends: ends.length };
        await client.send(encodeRrq('b1537.bin', 'octet', { blksize: '512', timeout: '1' }), port);
        const oack = await client.next();
        expect(oack.packet.opcode).toBe(TftpOpcode.OACK);
        const tid = oack.port;
        const next = async (): Promise<number> => {
          const p = (await client.next(6000)).packet;
          return p.opcode === TftpOpcode.DATA ? p.block : -1;
        };
        // Lock-step: on the native socket, ACKs 0-2 are answered without the state machine hearing of them.
        for (let block = 0; block < 3; block++) {
          await client.send(encodeAck(block), tid);
          expect(await next()).toBe(block + 1);
        }
        const stalledAt = Date.now();
        expect(await next()).toBe(3); // no ACK 3: block 3 again, after the timeout — not the ones before it
        expect(Date.now() - stalledAt).toBeGreaterThanOrEqual(500);
        await client.send(encodeAck(3), tid);
        expect(await next()).toBe(4);
        await client.send(encodeAck(4), tid);
        await waitFor(() => ends.length === before.ends + 1, 'the transfer to end');
        expect(ends[ends.length - 1]).toMatchObject({ ok: true, file: 'b1537.bin', bytes: 1537 });
        expect(server.stats().received).toBeGreaterThanOrEqual(before.received + 6); // RRQ, ACK 0-4: chained ones count
      } finally {
        await client.close();
      }
    });

    it('duplicate ACKs are not answered, a wrong TID gets ERROR 5 and does not disturb the transfer', async () => {
      const client = await TftpRawPeer.open();
      const stranger = await TftpRawPeer.open();
      try {
        await client.send(encodeRrq('b1537.bin'), port);
        const d1 = await client.next();
        expect(d1.packet).toMatchObject({ opcode: TftpOpcode.DATA, block: 1 });
        const tid = d1.port;
        expect(tid).not.toBe(port);

        await stranger.send(encodeAck(1), tid);
        expect((await stranger.next()).packet).toMatchObject({
          opcode: TftpOpcode.ERROR,
          code: TftpErrorCode.UNKNOWN_TRANSFER_ID,
        });

        await client.send(encodeAck(1), tid);
        expect((await client.next()).packet).toMatchObject({ opcode: TftpOpcode.DATA, block: 2 });
        await client.send(encodeAck(1), tid); // duplicate: must not trigger a re-send of block 2
        await client.send(encodeAck(2), tid);
        expect((await client.next()).packet).toMatchObject({ opcode: TftpOpcode.DATA, block: 3 });
        await client.send(encodeAck(3), tid);
        const last = await client.next();
        expect(last.packet).toMatchObject({ opcode: TftpOpcode.DATA, block: 4 });
        expect(last.packet.opcode === TftpOpcode.DATA && last.packet.data.length).toBe(1);
        const ok = server.stats().transfersOk;
        await client.send(encodeAck(4), tid);
        await waitFor(() => server.stats().transfersOk === ok + 1, 'the transfer to complete');
      } finally {
        await client.close();
        await stranger.close();
      }
    });
  });

  describe('refusals', () => {
    const expectError = async (request: Buffer, code: TftpErrorCode): Promise<void> => {
      const client = await TftpRawPeer.open();
      try {
        await client.send(request, port);
        const reply = await client.next();
        expect(reply.packet).toMatchObject({ opcode: TftpOpcode.ERROR, code });
        expect(reply.port).not.toBe(port);
      } finally {
        await client.close();
      }
    };

    it('WRQ → ERROR 2 (read-only)', () => expectError(encodeWrq('upload.bin'), TftpErrorCode.ACCESS_VIOLATION));
    it.each(['../etc/passwd', 'sub/../../etc/passwd', '..\\etc\\passwd', '//etc/passwd'])('%s → ERROR 2', (name) =>
      expectError(encodeRrq(name), TftpErrorCode.ACCESS_VIOLATION),
    );
    it('an absolute path stays inside the root: /etc/passwd → ERROR 1', () => expectError(encodeRrq('/etc/passwd'), TftpErrorCode.FILE_NOT_FOUND));
    it.each(['link-out', 'etc-link/passwd'])('symlink out of the root (%s) → ERROR 2', (name) =>
      expectError(encodeRrq(name), TftpErrorCode.ACCESS_VIOLATION),
    );
    it.each(['missing.bin', 'sub', 'sub/missing/x'])('%s → ERROR 1', (name) => expectError(encodeRrq(name), TftpErrorCode.FILE_NOT_FOUND));
    it('mode "mail" → ERROR 4', () => expectError(encodeRrq('b512.bin', 'mail'), TftpErrorCode.ILLEGAL_OPERATION));
  });

  it('malformed datagrams are counted and dropped; the server keeps serving', async () => {
    const before = server.stats();
    const sock = dgram.createSocket('udp4');
    // every one of these is malformed: empty, 1 byte, opcode 9, opcode 0, RRQ without NUL, invalid UTF-8 name,
    // DATA and ACK shorter than their headers, random bytes behind opcode 0xffff
    const bad = [
      Buffer.alloc(0),
      Buffer.from([0]),
      Buffer.from([0, 9, 1, 2]),
      Buffer.from([0, 0, 0, 0]),
      Buffer.from('\0\x01no-terminator', 'latin1'),
      Buffer.from([0, 1, 0xff, 0xfe, 0, 0x6f, 0]),
      Buffer.from([0, 3, 0]),
      Buffer.from([0, 4, 1]),
      Buffer.concat([Buffer.from([0xff, 0xff]), randomBytes(100)]),
    ];
    await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
    for (const b of bad) await new Promise<void>((resolve) => sock.send(b, port, '127.0.0.1', () => resolve()));
    sock.close();
    await waitFor(() => server.stats().malformed >= before.malformed + bad.length, 'malformed datagrams to be counted');
    expect(server.stats().received).toBeGreaterThanOrEqual(before.received + bad.length);
    expect(sha256(await curlGet('b512.bin'))).toBe(sha256(files.get('b512.bin')!));
  });

  describe('timeouts and shutdown (own servers with short timers)', () => {
    it('a client that stops ACKing: the server retransmits, then gives up after the retry budget', async () => {
      const events: TftpTransferEndEvent[] = [];
      const quick = new TftpServer({
        root,
        bindAddress: '127.0.0.1',
        port: 0,
        timeoutMs: 100,
        retries: 2,
        nativeSockets,
        onTransferEnd: (e) => events.push(e),
      });
      const quickPort = (await quick.start()).port;
      const client = await TftpRawPeer.open();
      try {
        await client.send(encodeRrq('b1537.bin'), quickPort);
        const seen: number[] = [];
        for (;;) {
          const m = await client.next();
          if (m.packet.opcode !== TftpOpcode.DATA) {
            expect(m.packet).toMatchObject({ opcode: TftpOpcode.ERROR, code: TftpErrorCode.NOT_DEFINED });
            break;
          }
          seen.push(m.packet.block);
        }
        expect(seen).toEqual([1, 1, 1]); // first send + 2 retransmissions
        await waitFor(() => events.length === 1, 'the transfer end event');
        expect(events[0]).toMatchObject({ ok: false, bytes: 0, file: 'b1537.bin' });
        expect(events[0].error).toMatch(/timeout/);
        expect(quick.stats()).toMatchObject({ transfersFailed: 1, active: 0 });
      } finally {
        await client.close();
        await quick.stop();
      }
    });

    it('stop() ends transfers in progress and closes their sockets', async () => {
      const events: TftpTransferEndEvent[] = [];
      const other = new TftpServer({
        root,
        bindAddress: '127.0.0.1',
        port: 0,
        nativeSockets,
        onTransferEnd: (e) => events.push(e),
      });
      const otherPort = (await other.start()).port;
      const client = await TftpRawPeer.open();
      try {
        await client.send(encodeRrq('b1537.bin'), otherPort);
        expect((await client.next()).packet).toMatchObject({ opcode: TftpOpcode.DATA, block: 1 });
        expect(other.stats().active).toBe(1);
        await other.stop();
        expect(other.stats().active).toBe(0);
        expect(events).toEqual([expect.objectContaining({ ok: false, error: 'server stopped' })]);
      } finally {
        await client.close();
      }
    });
  });
});
