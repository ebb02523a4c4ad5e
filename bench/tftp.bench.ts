/**
 * TFTP benchmark: DLS's TftpServer against dnsmasq (lock-step) and atftpd (RFC 7440 windowed), in one run.
 *
 *   npm run bench:tftp        (root; needs dnsmasq and the atftp client; atftpd for the windowed column)
 *
 * Everything runs inside a network namespace this bench creates (`bt-<pid>`, loopback only) and deletes at the end,
 * so the servers can use port 69 without touching the host's interfaces. Every server is a child process of its own
 * (dnsmasq, atftpd and DLS's TftpServer with its defaults), serving the same file (Debian's ipxe.efi when present).
 *
 * The client is the C `atftp` client, one process per download, for every server alike: N shell lanes are spawned
 * waiting on a barrier (`read` on stdin), released at once, each running PER_LANE downloads in a row; the round ends
 * when the last exits. Each download is checked by sha256. A round's figure is the aggregate MB/s (bytes / wall time,
 * 10^6 bytes); each (N, scenario) runs ROUNDS rounds per server, alternating which goes first, and the table shows
 * medians and the DLS / reference ratio.
 *
 * Scenarios: lock-step (blksize 1468, no windowsize) against dnsmasq at 1, 10, 50 concurrent clients; windowed
 * (blksize 1468, windowsize 16) against atftpd at 1, 10, 50. A calibration line first fetches from dnsmasq with the
 * atftp client and with DLS's own Node test client in a separate process, to show the client is not the bottleneck.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TftpServer } from '../src/modules/pxe-boot/tftp/tftp.server';
import { tftpGet } from '../test/tftp/tftp-client';

const CONCURRENCY = [1, 10, 50];
/** Downloads per client in one round: a lone transfer lasts ~30 ms, too short to time against scheduler noise. */
const PER_LANE: Record<number, number> = { 1: 8, 10: 2, 50: 1 };
const ROUNDS = 7;
const BLKSIZE = 1468;
const WINDOWSIZE = 16;
/** The whole bench is bounded; a round is killed after ROUND_TIMEOUT_MS. */
const BENCH_DEADLINE_MS = 9 * 60_000;
const ROUND_TIMEOUT_MS = 60_000;
const IPXE_EFI = '/usr/lib/ipxe/ipxe.efi';
const FILE = 'ipxe.efi';
const ATFTP = '/usr/bin/atftp';
const ATFTPD = '/usr/sbin/atftpd';
const DNSMASQ = '/usr/sbin/dnsmasq';
const ATFTPD_PORT = 6969;

type ServerName = 'DLS' | 'dnsmasq' | 'atftpd';

interface Server {
  readonly name: ServerName;
  readonly port: number;
  readonly child: ChildProcess;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

// ---------------------------------------------------------------------------------------------------------------
// Child modes

/** `--serve <root>`: DLS's TftpServer with its defaults on an ephemeral loopback port; prints `{"port":n}`. */
async function serveChild(root: string): Promise<void> {
  const server = new TftpServer({ root, bindAddress: '127.0.0.1', port: 0 });
  const { port } = await server.start();
  process.stdout.write(`${JSON.stringify({ port })}\n`);
  const stop = (): void => {
    void server.stop().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.stdin.on('end', stop); // parent gone
  process.stdin.resume();
}

/** `--node-client <port> <n>`: n concurrent downloads with test/tftp/tftp-client.ts; prints `{"mbps":x}`. */
async function nodeClientChild(port: number, n: number, expected: string): Promise<void> {
  const started = performance.now();
  let bytes = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      const options = { blksize: String(BLKSIZE) };
      const r = await tftpGet({ host: '127.0.0.1', port, file: FILE, options, timeoutMs: 1000, retries: 5 });
      if (r.error || sha256(r.data) !== expected) throw new Error('node client: bad download');
      bytes += r.data.length;
    }),
  );
  process.stdout.write(`${JSON.stringify({ mbps: bytes / 1e6 / ((performance.now() - started) / 1000) })}\n`);
}

// ---------------------------------------------------------------------------------------------------------------
// Inside the namespace

function waitLine(child: ChildProcess, what: string, timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} printed nothing within ${timeoutMs} ms`)), timeoutMs);
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) {
        clearTimeout(timer);
        resolve(line);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code}`));
    });
  });
}

function nodeChild(args: string[]): ChildProcess {
  return spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register', __filename, ...args], {
    cwd: path.join(__dirname, '..'),
    stdio: ['pipe', 'pipe', 'inherit'],
  });
}

async function startDls(root: string): Promise<Server> {
  const child = nodeChild(['--serve', root]);
  const line = await waitLine(child, 'DLS TFTP child');
  return { name: 'DLS', port: (JSON.parse(line) as { port: number }).port, child };
}

function startDnsmasq(root: string): Server {
  // --port=0: no DNS. --tftp-max: dnsmasq's default of 50 concurrent transfers would cap the 50-client rounds.
  const args = [
    '--keep-in-foreground',
    '--conf-file=/dev/null',
    '--port=0',
    '--enable-tftp',
    `--tftp-root=${root}`,
    '--listen-address=127.0.0.1',
    '--bind-interfaces',
    '--tftp-max=1024',
    '--pid-file=',
    `--log-facility=${path.join(root, '..', 'dnsmasq.log')}`,
  ];
  const child = spawn(DNSMASQ, args, { stdio: 'ignore' });
  return { name: 'dnsmasq', port: 69, child };
}

function startAtftpd(root: string): Server {
  const args = [
    '--daemon',
    '--no-fork',
    '--port',
    String(ATFTPD_PORT),
    '--bind-address',
    '127.0.0.1',
    '--maxthread',
    '1024',
    '--logfile',
    path.join(root, '..', 'atftpd.log'),
    root,
  ];
  const child = spawn(ATFTPD, args, { stdio: 'ignore' });
  return { name: 'atftpd', port: ATFTPD_PORT, child };
}

/**
 * One round: N lanes held on a barrier and released together, each running `perLane` atftp downloads one after the
 * other; resolves with the aggregate MB/s once all exited and every download matched `expected`.
 */
async function round(server: Server, n: number, windowsize: number | undefined, outDir: string, expected: string, perLane = 1): Promise<number> {
  const options = ['--option', `blksize ${BLKSIZE}`, ...(windowsize ? ['--option', `windowsize ${windowsize}`] : [])];
  const children: ChildProcess[] = [];
  const exits: Array<Promise<number | null>> = [];
  const files: string[] = [];
  // `read` blocks until the barrier line arrives; then the shell runs atftp perLane times (fork + exec per download,
  // the same for every server).
  const script = 'read _ || exit 1; i=0; while [ $i -lt "$K" ]; do "$0" "$@" -l "$OUT.$i" "$HOST" "$PORT" || exit 1; i=$((i+1)); done';
  for (let lane = 0; lane < n; lane++) {
    const out = path.join(outDir, `${server.name}-${lane}`);
    for (let i = 0; i < perLane; i++) files.push(`${out}.${i}`);
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', K: String(perLane), OUT: out, HOST: '127.0.0.1', PORT: String(server.port) };
    const child = spawn('/bin/sh', ['-c', script, ATFTP, ...options, '-g', '-r', FILE], { stdio: ['pipe', 'ignore', 'ignore'], env });
    children.push(child);
    exits.push(new Promise((resolve) => child.once('exit', (code) => resolve(code))));
  }
  const killer = setTimeout(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  }, ROUND_TIMEOUT_MS);
  const t0 = performance.now();
  for (const c of children) c.stdin!.end('\n');
  const codes = await Promise.all(exits);
  const seconds = (performance.now() - t0) / 1000;
  clearTimeout(killer);
  if (codes.some((c) => c !== 0)) throw new Error(`${server.name} N=${n}: atftp exit codes ${codes.join(',')}`);
  let bytes = 0;
  for (const f of files) {
    const got = await fs.readFile(f);
    if (sha256(got) !== expected) throw new Error(`${server.name} N=${n}: checksum mismatch in ${f}`);
    bytes += got.length;
    await fs.rm(f);
  }
  return bytes / 1e6 / seconds;
}

async function nodeClientMbps(port: number, n: number, expected: string): Promise<number> {
  const child = nodeChild(['--node-client', String(port), String(n), expected]);
  child.stdin!.end();
  const line = await waitLine(child, 'node client');
  return (JSON.parse(line) as { mbps: number }).mbps;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i])).join('  ');
  return [fmt(header), ...rows.map(fmt)].join('\n');
}

async function inside(workDir: string): Promise<void> {
  const root = path.join(workDir, 'root');
  const outDir = path.join(workDir, 'out');
  await fs.mkdir(root, { mode: 0o755 });
  await fs.mkdir(outDir);
  // dnsmasq and atftpd drop to "nobody": the root and the file must be world-readable.
  await fs.chmod(workDir, 0o755);
  const data = await fs.readFile(IPXE_EFI).catch(() => {
    const b = Buffer.alloc(850_528);
    for (let i = 0; i < b.length; i++) b[i] = (i * 2654435761) >>> 24;
    return b;
  });
  await fs.writeFile(path.join(root, FILE), data, { mode: 0o644 });
  const expected = sha256(data);

  const servers: Server[] = [];
  const stopAll = (): void => {
    for (const s of servers) if (s.child.pid && s.child.exitCode === null) s.child.kill('SIGTERM');
  };
  process.once('SIGTERM', () => {
    stopAll();
    process.exit(143);
  });
  try {
    const dls = await startDls(root);
    servers.push(dls);
    const dnsmasq = startDnsmasq(root);
    servers.push(dnsmasq);
    const haveAtftpd = existsSync(ATFTPD);
    const atftpd = haveAtftpd ? startAtftpd(root) : undefined;
    if (atftpd) servers.push(atftpd);
    // Ready = one good download (bounded).
    for (const s of servers) {
      const deadline = Date.now() + 20_000;
      for (;;) {
        try {
          await round(s, 1, undefined, outDir, expected);
          break;
        } catch (err) {
          if (Date.now() > deadline) throw new Error(`${s.name} not ready: ${String(err)}`, { cause: err });
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    }

    // Warm-up, not measured: a server that has run for a while (JIT-compiled hot path, caches filled) is what a
    // boot storm meets; every server gets the same.
    for (const s of servers) for (let i = 0; i < 4; i++) await round(s, 10, i % 2 ? WINDOWSIZE : undefined, outDir, expected);

    const loads = os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
    console.log(`file ${FILE}: ${data.length} bytes; blksize ${BLKSIZE}; ${ROUNDS} alternating rounds; ${os.cpus().length} CPUs; load ${loads}`);

    // Calibration: the same server, two different clients. If the Node client (a separate process) is no faster
    // than atftp, the atftp client is not what limits the figures.
    const cal = { atftp: [] as number[], node: [] as number[] };
    for (let r = 0; r < 3; r++) {
      cal.atftp.push(await round(dnsmasq, 1, undefined, outDir, expected));
      cal.node.push(await nodeClientMbps(dnsmasq.port, 1, expected));
    }
    console.log(
      `client calibration vs dnsmasq, 1 client, lock-step: atftp ${median(cal.atftp).toFixed(1)} MB/s, ` +
        `Node test client ${median(cal.node).toFixed(1)} MB/s (medians of 3)`,
    );

    const deadline = Date.now() + BENCH_DEADLINE_MS;
    const rows: string[][] = [];
    const scenarios: Array<{ label: string; ref: Server | undefined; refName: string; windowsize?: number }> = [
      { label: 'lock-step', ref: dnsmasq, refName: 'dnsmasq' },
      { label: `windowsize ${WINDOWSIZE}`, ref: atftpd, refName: 'atftpd', windowsize: WINDOWSIZE },
    ];
    for (const sc of scenarios) {
      if (!sc.ref) {
        console.log(
          `atftpd not installed: the windowed column is skipped. Install it with ` +
            `\`apt-get install -y --no-install-recommends atftpd\` (it conflicts with tftpd-hpa; policy-rc.d or ` +
            `\`systemctl disable --now atftpd.socket\` keeps it from serving on the host).`,
        );
        continue;
      }
      for (const n of CONCURRENCY) {
        const got: Record<'dls' | 'ref', number[]> = { dls: [], ref: [] };
        for (let r = 0; r < ROUNDS; r++) {
          if (Date.now() > deadline) throw new Error('benchmark deadline exceeded');
          // Alternate which server goes first, so a burst of machine noise does not always hit the same one.
          const order = r % 2 === 0 ? (['dls', 'ref'] as const) : (['ref', 'dls'] as const);
          for (const who of order) {
            got[who].push(await round(who === 'dls' ? dls : sc.ref, n, sc.windowsize, outDir, expected, PER_LANE[n]));
          }
        }
        const d = median(got.dls);
        const ref = median(got.ref);
        rows.push([
          sc.label,
          String(n),
          d.toFixed(1),
          `${sc.refName} ${ref.toFixed(1)}`,
          (d / ref).toFixed(2),
          got.dls.map((x) => x.toFixed(0)).join('/'),
          got.ref.map((x) => x.toFixed(0)).join('/'),
        ]);
      }
    }
    console.log(table(['scenario', 'N', 'DLS MB/s', 'reference MB/s', 'ratio', 'DLS rounds', 'reference rounds'], rows));
    console.log('(MB/s = 10^6 bytes/s aggregate over N concurrent downloads, median of rounds; ratio > 1 favours DLS)');
  } finally {
    stopAll();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Outside: create the namespace, run the bench inside it, delete it whatever happens.

function ip(args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr || r.error?.message}`);
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench:tftp needs root (it creates a network namespace)');
  for (const [bin, pkg] of [
    [DNSMASQ, 'dnsmasq-base'],
    [ATFTP, 'atftp'],
  ]) {
    if (!existsSync(bin)) throw new Error(`${bin} missing: apt-get install -y --no-install-recommends ${pkg}`);
  }
  const ns = `bt-${process.pid}`;
  const workDir = await fs.mkdtemp(path.join(os.tmpdir(), `dls-tftp-bench-${process.pid}-`));
  let child: ChildProcess | undefined;
  const cleanup = (): void => {
    if (child?.pid && child.exitCode === null) child.kill('SIGTERM');
    spawnSync('ip', ['netns', 'delete', ns], { timeout: 10_000 });
  };
  process.once('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  try {
    ip(['netns', 'add', ns]);
    ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    child = spawn(
      'ip',
      [
        'netns',
        'exec',
        ns,
        process.execPath,
        '-r',
        'ts-node/register/transpile-only',
        '-r',
        'tsconfig-paths/register',
        __filename,
        '--inside',
        workDir,
      ],
      { cwd: path.join(__dirname, '..'), stdio: ['ignore', 'inherit', 'inherit'] },
    );
    const code = await new Promise<number | null>((resolve) => child!.once('exit', resolve));
    if (code !== 0) process.exitCode = 1;
  } finally {
    cleanup();
    await fs.rm(workDir, { recursive: true, force: true });
  }
}

const mode = process.argv[2];
const fail = (err: unknown): void => {
  console.error(err);
  process.exit(1);
};
if (mode === '--serve') serveChild(process.argv[3]).catch(fail);
else if (mode === '--node-client')
  nodeClientChild(Number(process.argv[3]), Number(process.argv[4]), process.argv[5]).then(() => process.exit(0), fail);
else if (mode === '--inside') inside(process.argv[3]).then(() => process.exit(0), fail);
else main().catch(fail);
