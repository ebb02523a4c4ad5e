/**
 * TFTP benchmark: DLS TftpServer against Debian's tftpd-hpa on loopback.
 *
 *   npx ts-node bench/tftp.bench.ts            (needs `apt-get install -y tftpd-hpa`; run as root)
 *
 * Both servers serve the same ~830 KiB file (Debian's ipxe.efi when present). A Node client in this process runs
 * N = 1, 20, 100 concurrent downloads with blksize 1432 (lock-step: tftpd-hpa has no windowsize), 5 rounds each,
 * alternating servers per round to spread machine noise. Every download is checked by sha256. Prints the median
 * time per transfer, the median aggregate throughput and the DLS / tftpd-hpa ratios.
 *
 * Our server runs in a child process (as tftpd-hpa does) so it does not share the client's event loop. tftpd-hpa runs
 * as `/usr/sbin/in.tftpd --foreground --listen --address 127.0.0.1:<port> --secure <root>`, a child killed by PID;
 * the system service is never touched.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as dgram from 'node:dgram';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TftpServer } from '../src/modules/pxe-boot/tftp/tftp.server';
import { tftpGet } from '../test/tftp/tftp-client';

const CONCURRENCY = [1, 20, 100];
const ROUNDS = 5;
const BLKSIZE = '1432';
const BENCH_DEADLINE_MS = 10 * 60_000;
const IPXE_EFI = '/usr/lib/ipxe/ipxe.efi';
const IN_TFTPD = '/usr/sbin/in.tftpd';
const FILE = 'ipxe.efi';

interface Round {
  perTransferMs: number[];
  wallMs: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Child mode: serve `root` with TftpServer on an ephemeral loopback port and print the port. */
async function serveChild(root: string): Promise<void> {
  const server = new TftpServer({ root, bindAddress: '127.0.0.1', port: 0, maxTransfers: 1024 });
  const { port } = await server.start();
  process.stdout.write(`${JSON.stringify({ port })}\n`);
  const stop = (): void => {
    void server.stop().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.stdin.on('end', stop); // parent gone
  process.stdin.resume();
}

function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function startDls(root: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register', __filename, '--serve', root], {
    cwd: path.join(__dirname, '..'),
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('DLS child did not report its port within 60 s')), 60_000);
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) {
        clearTimeout(timer);
        resolve({ child, port: (JSON.parse(line) as { port: number }).port });
      }
    });
    child.once('exit', (code) => reject(new Error(`DLS child exited with ${code}`)));
  });
}

async function startTftpdHpa(root: string): Promise<{ child: ChildProcess; port: number }> {
  await fs.access(IN_TFTPD).catch(() => {
    throw new Error(`${IN_TFTPD} missing: apt-get install -y tftpd-hpa`);
  });
  const port = await freeUdpPort();
  const child = spawn(IN_TFTPD, ['--foreground', '--listen', '--address', `127.0.0.1:${port}`, '--secure', root], {
    stdio: 'ignore',
  });
  child.once('error', (err) => console.error(`in.tftpd: ${err.message}`));
  return { child, port };
}

/** Waits until `port` serves the file (bounded). */
async function waitReady(port: number, expected: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const options = { blksize: BLKSIZE };
      const r = await tftpGet({ host: '127.0.0.1', port, file: FILE, options, timeoutMs: 300, retries: 2 });
      if (r.error) throw new Error(`ERROR ${r.error.code} ${r.error.message}`);
      if (sha256(r.data) !== expected) throw new Error('checksum mismatch');
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`server on port ${port} not ready: ${String(err)}`, { cause: err });
    }
  }
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function round(port: number, n: number, expected: string): Promise<Round> {
  const started = performance.now();
  const perTransferMs = await Promise.all(
    Array.from({ length: n }, async () => {
      const t0 = performance.now();
      const options = { blksize: BLKSIZE };
      const r = await tftpGet({ host: '127.0.0.1', port, file: FILE, options, timeoutMs: 1000, retries: 5 });
      if (r.error) throw new Error(`ERROR ${r.error.code} ${r.error.message}`);
      if (sha256(r.data) !== expected) throw new Error('checksum mismatch');
      return performance.now() - t0;
    }),
  );
  return { perTransferMs, wallMs: performance.now() - started };
}

async function main(): Promise<void> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), `dls-tftp-bench-${process.pid}-`));
  const children: ChildProcess[] = [];
  const cleanup = async (): Promise<void> => {
    for (const c of children) if (c.pid && c.exitCode === null) c.kill('SIGTERM');
    await fs.rm(root, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  try {
    // tftpd-hpa drops to user "tftp": the root and the file must be world-readable.
    await fs.chmod(root, 0o755);
    const data = await fs.readFile(IPXE_EFI).catch(() => {
      const b = Buffer.alloc(850_528);
      for (let i = 0; i < b.length; i++) b[i] = (i * 2654435761) >>> 24;
      return b;
    });
    await fs.writeFile(path.join(root, FILE), data, { mode: 0o644 });
    const expected = sha256(data);
    const sizeMiB = data.length / 2 ** 20;

    const dls = await startDls(root);
    children.push(dls.child);
    const hpa = await startTftpdHpa(root);
    children.push(hpa.child);
    await waitReady(dls.port, expected);
    await waitReady(hpa.port, expected);

    const cpus = os.cpus().length;
    console.log(`file ${FILE}: ${data.length} bytes; blksize ${BLKSIZE}; ${ROUNDS} rounds per N; ${cpus} CPUs`);
    console.log(
      `load average at start: ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
    const header = ['N', 'server', 'median ms/transfer', 'p-max ms', 'median MiB/s (aggregate)'];
    const rows: string[][] = [];
    const deadline = Date.now() + BENCH_DEADLINE_MS;
    for (const n of CONCURRENCY) {
      const results: Record<'dls' | 'hpa', Round[]> = { dls: [], hpa: [] };
      for (let r = 0; r < ROUNDS; r++) {
        if (Date.now() > deadline) throw new Error('benchmark deadline exceeded');
        results.dls.push(await round(dls.port, n, expected));
        results.hpa.push(await round(hpa.port, n, expected));
      }
      const summary = (rs: Round[]): { ms: number; max: number; mibs: number } => ({
        ms: median(rs.flatMap((x) => x.perTransferMs)),
        max: median(rs.map((x) => Math.max(...x.perTransferMs))),
        mibs: median(rs.map((x) => (n * sizeMiB) / (x.wallMs / 1000))),
      });
      const d = summary(results.dls);
      const h = summary(results.hpa);
      rows.push([String(n), 'DLS', d.ms.toFixed(1), d.max.toFixed(1), d.mibs.toFixed(1)]);
      rows.push([String(n), 'tftpd-hpa', h.ms.toFixed(1), h.max.toFixed(1), h.mibs.toFixed(1)]);
      rows.push([
        String(n),
        'ratio DLS/hpa',
        `${(d.ms / h.ms).toFixed(2)}x time`,
        `${(d.max / h.max).toFixed(2)}x`,
        `${(d.mibs / h.mibs).toFixed(2)}x throughput`,
      ]);
    }
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const fmt = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i])).join('  ');
    console.log(fmt(header));
    for (const r of rows) console.log(fmt(r));
    console.log('(p-max: median over rounds of the slowest transfer; time ratio < 1, throughput ratio > 1 favour DLS)');
  } finally {
    await cleanup();
  }
}

if (process.argv[2] === '--serve') {
  serveChild(process.argv[3]).catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
