/**
 * UDP GSO against a route MTU: a window whose datagrams fit the MTU leaves as one GSO send; one whose datagrams do
 * not (a client's blksize above the link's MTU) is refused by the kernel for GSO (EINVAL) and must still arrive, as
 * IP-fragmented datagrams sent by sendmmsg, with the next windows of that socket taking sendmmsg at once.
 *
 * The MTU is lowered on the loopback of a network namespace this test creates (never the host's): the sender and the
 * receiver run in a child process there.
 */
import { spawn, spawnSync } from 'node:child_process';
import { nativeAddonPath } from '../../src/modules/pxe-boot/net/native-binding';

const NS = `dls-gso-${process.pid}`;

/**
 * Runs inside the namespace: for each blksize in turn, a native transfer socket sends `windows` windows of 16 blocks
 * to a dgram peer; prints what the peer got and the socket's counters, one result per blksize.
 */
const CHILD = `
const dgram = require('node:dgram');
const [addon, windows, ...blksizes] = process.argv.slice(1);
const { TransferSocket } = require(addon);
const headers = Buffer.alloc(65536 * 4);
for (let i = 0; i < 65536; i++) headers.writeUInt32BE((3 << 16) | i, i * 4);
function one(blksize) {
  return new Promise((resolve) => {
    const peer = dgram.createSocket('udp4');
    const got = [];
    let socket;
    const finish = () => {
      clearTimeout(timer);
      const stats = socket.stats();
      socket.close();
      peer.close();
      resolve({ got, stats });
    };
    const timer = setTimeout(finish, 10000);
    peer.on('message', (m) => {
      got.push(m.length);
      if (got.length === 16 * windows) finish();
    });
    peer.bind(0, '127.0.0.1', () => {
      socket = new TransferSocket(
        { address: '127.0.0.1', peerAddress: '127.0.0.1', peerPort: peer.address().port, receiveBuffer: Buffer.alloc(2048) },
        () => undefined,
        (e) => { throw e; },
      );
      socket.setSource(headers, Buffer.alloc(16 * windows * blksize + 1, 1), blksize);
      for (let w = 0; w < windows; w++) socket.sendBlocks(1 + 16 * w, 16);
    });
  });
}
(async () => {
  const results = [];
  for (const b of blksizes) results.push(await one(Number(b)));
  process.stdout.write(JSON.stringify(results) + '\\n');
})();
`;

function ip(args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
}

type Result = { got: number[]; stats: { gsoSends: number } };

function runInNs(windows: number, ...blksizes: number[]): Promise<Result[]> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', NS, process.execPath, '-e', CHILD, nativeAddonPath(), String(windows), ...blksizes.map(String)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`child exited ${code}: ${err}`))));
  });
}

describe('TFTP transfer socket: GSO and the route MTU', () => {
  beforeAll(() => {
    ip(['netns', 'add', NS]);
    ip(['-n', NS, 'link', 'set', 'lo', 'mtu', '1280']);
    ip(['-n', NS, 'link', 'set', 'lo', 'up']);
  });
  afterAll(() => {
    spawnSync('ip', ['netns', 'delete', NS], { timeout: 10_000 });
  });

  it('datagrams that fit the MTU: one GSO send per window, each datagram intact', async () => {
    const [r] = await runInNs(2, 1200); // 1204-byte datagrams, 1232 with the headers: under 1280
    expect(r.got).toEqual(Array(32).fill(1204));
    expect(r.stats.gsoSends).toBe(2);
  });

  it('datagrams above the MTU: every window still arrives (fragmented) through sendmmsg; other sockets keep GSO', async () => {
    // 1472-byte datagrams: 1500 with the headers, above 1280. Then a socket whose datagrams fit again.
    const [big, small] = await runInNs(3, 1468, 1200);
    expect(big.got).toEqual(Array(48).fill(1472));
    expect(big.stats.gsoSends).toBe(0);
    expect(small.got).toEqual(Array(48).fill(1204));
    expect(small.stats.gsoSends).toBe(3);
  });
});
