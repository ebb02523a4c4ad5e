/**
 * Boot-script route benchmark: `wrk` against `GET /boot/<mac>.ipxe?t=<token>` of the built DLS and against a bare
 * node:http server answering a body of the same size, in the same run, alternating, loopback only (inside a network
 * namespace of its own, `bs-script-<pid>`). Prints req/s, p50/p99 of each round and the ratio DLS / bare (target
 * ≥ 0.5 in the median of the rounds).
 *
 *   npm run bench:script [-- rounds=3 seconds=5]
 *
 * Set-up, as a user's server would have it (README defaults otherwise: HTTP on 0.0.0.0:3000, DHCP, tgtd, the `dir`
 * storage driver):
 * - 1,000 clients (one bulk registration) on a 1 MiB image, each with a DHCP reservation in a full-mode range
 *   10.79.0.0/22 that DLS serves for relayed requests (its interface is the lab bridge, which holds another subnet).
 * - The trust rule of the boot routes is kept whole: a requester must be on a boot network, carry the token DLS
 *   hands out, and (full mode) come from the address DLS gives that MAC. So each client's address is put on the
 *   namespace's loopback and its requests come from it (Linux picks a local destination as the source address): the
 *   only way one machine can be 1,000 clients. Tokens are signed with DLS's own key from its data directory — what
 *   DLS's DHCP would put in the script URL.
 * - wrk binds each thread to one address (`thread.addr`), so 50 connections are 50 clients at a time; each round
 *   takes the next 50 clients. Every one of the 1,000 clients gets its first script (the one that prepares its disk
 *   and export) before the rounds: the rounds measure the repeated path, and the first requests' p50/p99 are printed.
 * - DLS_BOOT_RATE_PER_SECOND=off: each address here asks thousands of times a second, which the per-address default
 *   (a burst of 20, then 2/s) refuses, as it should for one PC; a user turns it off (or raises it) when many clients
 *   reach DLS through one NAT or relay address.
 *
 * Run as root (namespaces, tgtd). The npm script builds DLS and holds /tmp/dls-heavy-tests.lock while it runs, so two
 * benches (or a QEMU test) do not measure each other.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signBootToken } from '../src/modules/pxe-boot/boot-trust/boot-token';
import { buildDls, provisionImage, repoRoot, startDlsInLab } from '../test/boot/dls-lab';
import { createLab } from '../test/lab/netns';

/** Registered clients (argv[4] for a quicker look; the figures quoted are with 1,000). */
const CLIENTS = Number(process.argv[4] ?? 1000);
const CONNECTIONS = 50;
const IMAGE_BYTES = 1024 * 1024;
const DLS_PORT = 3000; // README default
const BARE_PORT = 8080;
const TARGET_RATIO = 0.5;

const addressOf = (i: number): string => `10.79.${Math.floor(i / 250)}.${(i % 250) + 1}`;
const macOf = (i: number): string => `52:54:00:b5:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;

interface WrkFigures {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  non2xx: number;
  errors: number;
}

const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** wrk's `--latency` figure (`1.23ms`, `850.00us`, `1.02s`) in milliseconds. */
function ms(v: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(v.trim());
  if (!m) throw new Error(`cannot read wrk latency ${v}`);
  return Number(m[1]) * { us: 0.001, ms: 1, s: 1000, m: 60_000 }[m[2] as 'us' | 'ms' | 's' | 'm'];
}

function parseWrk(out: string): WrkFigures {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const p50 = /^\s+50%\s+(\S+)/m.exec(out);
  const p99 = /^\s+99%\s+(\S+)/m.exec(out);
  const total = /(\d+) requests in/.exec(out);
  if (!rps || !p50 || !p99 || !total) throw new Error(`unexpected wrk output:\n${out}`);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out);
  const errs = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: Number(rps[1]),
    p50: ms(p50[1]),
    p99: ms(p99[1]),
    requests: Number(total[1]),
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    errors: errs ? errs.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
  };
}

/** A wrk script: thread t connects to (and so comes from) `addrs[t]` and asks for `paths[t]` over and over. */
function wrkScript(addrs: string[], paths: string[], port: number): string {
  const list = (xs: string[]): string => `{ ${xs.map((x) => JSON.stringify(x)).join(', ')} }`;
  return `local addrs = ${list(addrs)}
local paths = ${list(paths)}
local n = 0
function setup(thread)
  n = n + 1
  thread.addr = wrk.lookup(addrs[n], "${port}")[1]
  thread:set("path", paths[n])
end
function request()
  return wrk.format("GET", path)
end
`;
}

/** The first script request of every client (the one that prepares its disk and export), 16 at a time. */
const WARMUP_JS = `
const http = require('node:http');
const jobs = JSON.parse(require('node:fs').readFileSync(process.argv[2], 'utf8'));
const port = Number(process.argv[3]);
const times = [];
const statuses = {};
let sample = '';
let next = 0;
function one(job) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const req = http.get({ host: job.addr, localAddress: job.addr, port, path: job.path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => {
        times.push(Number(process.hrtime.bigint() - t0) / 1e6);
        const what = res.statusCode === 200 && body.includes('sanboot') ? 'script' : res.statusCode + ' ' + body.split('\\n')[1];
        statuses[what] = (statuses[what] || 0) + 1;
        if (what === 'script') sample = body;
        resolve();
      });
    });
    req.setTimeout(60000, () => req.destroy(new Error('timeout')));
    req.on('error', (e) => { statuses[e.message] = (statuses[e.message] || 0) + 1; resolve(); });
  });
}
async function worker() { while (next < jobs.length) await one(jobs[next++]); }
const t0 = Date.now();
Promise.all(Array.from({ length: 16 }, worker)).then(() => {
  times.sort((a, b) => a - b);
  const p = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
  console.log(JSON.stringify({ seconds: (Date.now() - t0) / 1000, times, p50: p(0.5), p99: p(0.99), statuses, sample }));
});
`;

/** A bare node:http server answering `body` to every request: the floor an HTTP answer costs on this machine. */
const BARE_JS = `
const body = require('node:fs').readFileSync(process.argv[2]);
require('node:http')
  .createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': body.length, 'Cache-Control': 'no-store' });
    res.end(body);
  })
  .listen(Number(process.argv[3]), '0.0.0.0', () => console.log('listening'));
`;

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 3);
  const seconds = Number(process.argv[3] ?? 5);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) throw new Error('rounds must be 1..20');
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 60) throw new Error('seconds must be 1..60');
  if (rounds * CONNECTIONS > CLIENTS) throw new Error(`at most ${CLIENTS / CONNECTIONS} rounds (${CONNECTIONS} new clients each)`);
  if (!existsSync(join(repoRoot(), 'dist', 'src', 'main.js'))) await buildDls();

  const dir = mkdtempSync(join(tmpdir(), 'dls-bench-script-'));
  const lab = await createLab({ name: `bs-script-${process.pid}`, ipv6: false });
  try {
    // The 1,000 client addresses, on the namespace's loopback.
    const batch = join(dir, 'addrs.batch');
    writeFileSync(batch, Array.from({ length: CLIENTS }, (_, i) => `address add ${addressOf(i)}/32 dev lo\n`).join(''));
    await lab.exec(['ip', '-batch', batch]);

    const dls = await startDlsInLab(lab, {
      dataDir: join(dir, 'data'),
      logFile: join(dir, 'dls.log'),
      env: {
        // See the header: many clients behind one address (NAT, relay) is when a user lifts the per-address limit;
        // here each address asks thousands of times a second.
        DLS_BOOT_RATE_PER_SECOND: 'off',
        ...(process.env.BENCH_DLS_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_DLS_NODE_OPTIONS } : {}),
      },
    });
    let bare: { kill(): void } | undefined;
    try {
      const diskPath = join(dir, 'disk.raw');
      writeFileSync(diskPath, Buffer.alloc(IMAGE_BYTES));
      const { imageId } = await provisionImage(dls, 'bench', diskPath, IMAGE_BYTES);
      await dls.ok('POST', '/api/v1/network-ranges', {
        name: 'bench-relayed',
        cidr: '10.79.0.0/22',
        interface: lab.bridge,
        dhcpMode: 'full',
        poolStart: '10.79.3.251',
        poolEnd: '10.79.3.254',
        leaseSeconds: 600,
      });
      const t0 = Date.now();
      // In chunks: the harness passes the body on curl's command line (at most 128 KiB per argument).
      for (let from = 0; from < CLIENTS; from += 400) {
        const rows = Array.from({ length: Math.min(400, CLIENTS - from) }, (_, k) => from + k).map((i) => ({
          macAddress: macOf(i),
          hostname: `bench-${i}`,
          assignedImageId: imageId,
          ipAddress: addressOf(i),
        }));
        await dls.ok('POST', '/api/v1/clients/bulk', rows);
      }
      console.log(`registered ${CLIENTS} clients in ${Date.now() - t0} ms`);

      // DLS signs script URLs with this key when its DHCP answers; the bench signs the same URLs.
      const key = Buffer.from(readFileSync(join(dls.dataDir, 'secrets', 'boot-token-key'), 'utf8').trim());
      // Signed just before use: a token lives 5 minutes (a PC fetches its script seconds after DHCP), the warm-up of
      // 1,000 clients takes longer than that.
      const pathOf = (i: number): string => `/boot/${macOf(i)}.ipxe?t=${signBootToken(key, macOf(i), addressOf(i), Date.now() / 1000)}`;
      const paths: string[] = [];

      // Wait until DHCP serves the range (the trust rule reads the served ranges).
      const deadline = Date.now() + 60_000;
      for (;;) {
        const st = await dls.api('GET', '/api/v1/health/ready');
        if (JSON.stringify(st.body).includes('dlsbr0') || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 500));
      }

      writeFileSync(join(dir, 'warmup.js'), WARMUP_JS);
      const warm = { seconds: 0, times: [] as number[], statuses: {} as Record<string, number>, sample: '' };
      for (let from = 0; from < CLIENTS; from += 100) {
        const ids = Array.from({ length: Math.min(100, CLIENTS - from) }, (_, k) => from + k);
        const jobsFile = join(dir, 'warmup.json');
        writeFileSync(jobsFile, JSON.stringify(ids.map((i) => ({ addr: addressOf(i), path: pathOf(i) }))));
        const part = JSON.parse(
          (await lab.exec([process.execPath, join(dir, 'warmup.js'), jobsFile, String(DLS_PORT)], { timeoutMs: 600_000 })).stdout,
        ) as {
          seconds: number;
          times: number[];
          statuses: Record<string, number>;
          sample: string;
        };
        warm.seconds += part.seconds;
        warm.times.push(...part.times);
        for (const [k, n] of Object.entries(part.statuses)) warm.statuses[k] = (warm.statuses[k] ?? 0) + n;
        warm.sample ||= part.sample;
      }
      warm.times.sort((a, b) => a - b);
      const pct = (q: number): number => warm.times[Math.min(warm.times.length - 1, Math.floor(q * warm.times.length))];
      console.log(
        `first script of each of ${CLIENTS} clients (disk + export prepared), 16 at a time: ${warm.seconds.toFixed(1)} s, ` +
          `p50 ${pct(0.5).toFixed(1)} ms, p99 ${pct(0.99).toFixed(1)} ms, statuses ${JSON.stringify(warm.statuses)}`,
      );
      // A client whose preparation failed (see the log) gets its script at its next request, as a real PC's retry would.
      const missing = CLIENTS - (warm.statuses.script ?? 0);
      if (missing > CLIENTS / 10 || !warm.sample) throw new Error(`${missing} clients got no script\n${dls.logTail(3000)}`);

      const bodyFile = join(dir, 'body.txt');
      writeFileSync(bodyFile, warm.sample); // the bare server answers a body of exactly the size DLS answers
      writeFileSync(join(dir, 'bare.js'), BARE_JS);
      const bareProc = lab.spawn([process.execPath, join(dir, 'bare.js'), bodyFile, String(BARE_PORT)], { logFile: join(dir, 'bare.log') });
      bare = bareProc;
      for (const until = Date.now() + 15_000; !readFileSync(join(dir, 'bare.log'), 'utf8').includes('listening');) {
        if (Date.now() > until) throw new Error('bare server did not start');
        await new Promise((r) => setTimeout(r, 100));
      }
      console.log(`body: ${Buffer.byteLength(warm.sample)} bytes; wrk ${CONNECTIONS} connections (one client address each), ${seconds} s per run`);

      /** One request of each client of round `r` just before it is measured: a session that timed out meanwhile
       * (DLS_BOOT_TIMEOUT: no iSCSI login here) or a failed preparation is redone now, not in the measured run. */
      const rewarm = async (r: number): Promise<void> => {
        const file = join(dir, `rewarm${r}.json`);
        const ids = Array.from({ length: CONNECTIONS }, (_, t) => r * CONNECTIONS + t);
        for (const i of ids) paths[i] = pathOf(i); // this round's tokens, fresh
        writeFileSync(file, JSON.stringify(ids.map((i) => ({ addr: addressOf(i), path: paths[i] }))));
        const out = JSON.parse(
          (await lab.exec([process.execPath, join(dir, 'warmup.js'), file, String(DLS_PORT)], { timeoutMs: 120_000 })).stdout,
        ) as {
          statuses: Record<string, number>;
        };
        if (out.statuses.script !== CONNECTIONS) throw new Error(`round ${r + 1}: not every client has its script: ${JSON.stringify(out.statuses)}`);
      };

      const drive = async (r: number, port: number): Promise<WrkFigures> => {
        const ids = Array.from({ length: CONNECTIONS }, (_, t) => r * CONNECTIONS + t);
        const lua = join(dir, `round${r}-${port}.lua`);
        writeFileSync(
          lua,
          wrkScript(
            ids.map(addressOf),
            ids.map((i) => paths[i]),
            port,
          ),
        );
        const out = await lab.exec(
          [
            'wrk',
            '-t',
            String(CONNECTIONS),
            '-c',
            String(CONNECTIONS),
            '-d',
            `${seconds}s`,
            '--latency',
            '-s',
            lua,
            `http://${addressOf(ids[0])}:${port}/`,
          ],
          { timeoutMs: (seconds + 30) * 1000 },
        );
        return parseWrk(out.stdout);
      };

      const ratios: number[] = [];
      const dlsRps: number[] = [];
      const bareRps: number[] = [];
      const line = (f: WrkFigures): string =>
        `${f.rps.toFixed(0).padStart(6)} req/s  p50 ${f.p50.toFixed(2)} ms  p99 ${f.p99.toFixed(2)} ms  (${f.requests} requests, non-2xx ${f.non2xx}, socket errors ${f.errors})`;
      for (let r = 0; r < rounds; r++) {
        await rewarm(r);
        const d = await drive(r, DLS_PORT);
        const b = await drive(r, BARE_PORT);
        if (d.non2xx > 0 || d.errors > 0)
          throw new Error(`round ${r + 1}: DLS answered ${d.non2xx} non-2xx, ${d.errors} socket errors\n${dls.logTail(3000)}`);
        ratios.push(d.rps / b.rps);
        dlsRps.push(d.rps);
        bareRps.push(b.rps);
        console.log(`round ${r + 1}/${rounds}`);
        console.log(`  DLS  ${line(d)}`);
        console.log(`  bare ${line(b)}`);
        console.log(`  ratio DLS/bare ${(d.rps / b.rps).toFixed(3)}`);
      }
      const ratio = median(ratios);
      console.log('');
      console.log(`GET /boot/<mac>.ipxe, ${CLIENTS} clients, ${CONNECTIONS} connections, median of ${rounds} rounds:`);
      console.log(`  DLS  ${median(dlsRps).toFixed(0)} req/s`);
      console.log(`  bare ${median(bareRps).toFixed(0)} req/s`);
      console.log(`  ratio DLS/bare = ${ratio.toFixed(3)} (target ≥ ${TARGET_RATIO}) ${ratio >= TARGET_RATIO ? 'OK' : 'BELOW TARGET'}`);
      const warnings = readFileSync(dls.logFile, 'utf8')
        .split('\n')
        .filter((l) => /"level":(40|50)|illegal/.test(l));
      console.log(`  DLS log: ${warnings.length} warning/error lines`);
      for (const w of warnings.slice(0, 5)) console.log(`    ${w.slice(0, 300)}`);
    } finally {
      bare?.kill();
      await dls.stop();
    }
  } finally {
    await lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
