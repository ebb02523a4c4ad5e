/**
 * DHCP under load: Kea's `perfdhcp` against DLS (the built server, README defaults, spawned like test/boot/dls-lab.ts
 * does) and against dnsmasq (the reference, same namespace, same run), in namespaces this script creates:
 *
 *   bd-srv-<pid>  the lab namespace (test/lab/netns.ts): bridge dlsbr0 with the server's addresses, DLS or dnsmasq
 *   bd-cli-<pid>  perfdhcp, on veth bdc0 (10.250.0.2/16) plugged into dlsbr0 (10.250.0.1/16)
 *
 * perfdhcp speaks DHCPv4 as a relay agent (giaddr = its address), so both servers answer it from their range
 * 10.250.0.0/16 (pool 10.250.1.0–10.250.255.254, 600 s leases). Scenarios, each at the best rate with < 1 % of
 * DORAs unanswered (found by doubling, then bisecting; each trial TRIAL_S seconds):
 *
 * - empty:        unknown MACs (new ones every trial), DLS range policy `register` (each new MAC also becomes a
 *                 pending client); dnsmasq with an empty lease file.
 * - leases:       10,000 known clients with a bound lease each (disabled, so DHCP gives an address only — the
 *                 boot-session work of enabled clients is the script route's bench); dnsmasq with the same 10,000
 *                 leases in its lease file.
 * - reservations: 1,000 clients with a reserved address (dnsmasq: dhcp-hostsfile).
 * - overload:     the leases scenario offered at 2× each server's best rate; DORA/s completed and its share of the best.
 * - latency:      the leases scenario at half the best rate; DISCOVER→OFFER p50/p99 (perfdhcp `-x t` timers).
 *
 * For each: DORA/s, p50/p99 DISCOVER→OFFER, CPU per DORA (DLS: node + its PostgreSQL's processes; dnsmasq: itself,
 * from /proc), DLS's RSS, and the ratio DLS / dnsmasq. `--runs N` repeats the measurements (medians printed).
 *
 * Run: `npm run bench:dhcp [-- --runs 3] [--only empty|leases|reservations]` (builds first). Root, perfdhcp (kea-admin's /usr/sbin/perfdhcp) and
 * dnsmasq needed. Takes /tmp/dls-heavy-tests.lock so two benches don't measure each other; bounded to 16 min (+10 per extra run).
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { median } from './boot-reference';
import { addBridgePort, Namespaces } from '../test/net/netns-harness';
import { buildDls, DlsInLab, pickControlPort, repoRoot, startDlsInLab, waitFor } from '../test/boot/dls-lab';
import { createLab, Lab, LabProcess } from '../test/lab/netns';

const execFileP = promisify(execFile);
const PERFDHCP = '/usr/sbin/perfdhcp';
/** Seconds per rate trial. */
const TRIAL_S = 4;
/** Bound of the whole bench: 16 min for one run (the default), 10 min more per extra run. */
const benchDeadlineMs = (runs: number): number => (16 + 10 * (runs - 1)) * 60_000;
const NET = '10.250';
const CLIENT_IF = 'bdc0';
const LEASES = 10_000;
const RESERVATIONS = 1_000;
/** Largest rate tried (perfdhcp and the 2 cores it shares). */
const MAX_RATE = 6400;
const CLK_TCK = 100;

const started = Date.now();
const log = (line: string): void => console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`);

/** The MACs of the leases and reservations scenarios (the same formula builds them in SQL). */
const leaseMac = (i: number): string => `0e:00:00:00:${hex(i >> 8)}:${hex(i & 255)}`;
const reservedMac = (i: number): string => `0e:00:00:01:${hex(i >> 8)}:${hex(i & 255)}`;
const hex = (n: number): string => n.toString(16).padStart(2, '0');
const ipPlus = (base: string, i: number): string => {
  const [a, b, c, d] = base.split('.').map(Number);
  const n = ((a << 24) | (b << 16) | (c << 8) | d) + i;
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
};

interface Trial {
  rate: number;
  sent: number;
  acks: number;
  offers: number;
  /** DORAs unanswered / DISCOVERs sent. */
  dropRatio: number;
  doraPerSec: number;
  p50: number | null;
  p99: number | null;
  cpuMsPerDora: number | null;
}

/** CPU seconds (user + system) of `pids`, from /proc/<pid>/stat. */
function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]); // utime, stime (fields 14, 15)
    } catch {
      // gone
    }
  }
  return ticks / CLK_TCK;
}

function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** The postmaster named by `<pgdata>/postmaster.pid` and its children (the backends). */
function postgresPids(dataDir: string): number[] {
  const pointer = join(dataDir, 'postgres', 'cluster-location');
  const base = existsSync(pointer) ? readFileSync(pointer, 'utf8').trim() : join(dataDir, 'postgres');
  let master = 0;
  for (const d of [join(base, 'data'), base]) {
    try {
      master = Number(readFileSync(join(d, 'postmaster.pid'), 'utf8').split('\n')[0]);
      if (master > 0) break;
    } catch {
      // not here
    }
  }
  if (!master) return [];
  const out = [master];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === master) out.push(Number(e));
    } catch {
      // gone
    }
  }
  return out;
}

/**
 * Where DLS's memory is, from its own /metrics (README default 127.0.0.1:9464, reached inside the lab namespace):
 * RSS, V8 heap used/total and per space, external and array buffers, in MB.
 */
async function dlsMemory(lab: Lab): Promise<string> {
  try {
    const text = (await lab.exec(['curl', '-sS', '--max-time', '10', 'http://127.0.0.1:9464/metrics'])).stdout;
    const mb = (re: RegExp): string => {
      const m = re.exec(text);
      return m ? (Number(m[1]) / 1024 / 1024).toFixed(0) : '?';
    };
    const spaces = [...text.matchAll(/^nodejs_heap_space_size_total_bytes\{space="(\w+)"\} ([\d.e+]+)/gm)]
      .filter((m) => Number(m[2]) >= 1024 * 1024)
      .map((m) => `${m[1].replace(/_space$/, '')} ${(Number(m[2]) / 1024 / 1024).toFixed(0)}`)
      .join(', ');
    return (
      `RSS ${mb(/^process_resident_memory_bytes ([\d.e+]+)/m)} MB; heap used ${mb(/^nodejs_heap_size_used_bytes ([\d.e+]+)/m)}` +
      ` of ${mb(/^nodejs_heap_size_total_bytes ([\d.e+]+)/m)} MB (${spaces}); external ${mb(/^nodejs_external_memory_bytes ([\d.e+]+)/m)} MB`
    );
  } catch (err) {
    return `(no /metrics: ${(err as Error).message.split('\n')[0]})`;
  }
}

/**
 * RSS (MB) 90 s after a load: V8 keeps the heap it grew for the load until its memory reducer runs, which here took
 * 30–50 s of quiet (RSS 334–342 MB, then 139–146 MB). Logs the RSS every 10 s meanwhile.
 */
async function restingRss(rss: () => number): Promise<number> {
  const seen: string[] = [];
  let last = rss();
  for (let s = 10; s <= 90; s += 10) {
    await new Promise((r) => setTimeout(r, 10_000));
    last = rss();
    seen.push(`${s} s ${last.toFixed(0)}`);
  }
  log(`  DLS RSS after the load (MB): ${seen.join(', ')}`);
  return last;
}

const quantile = (sorted: number[], q: number): number | null =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : null;

/** One perfdhcp run in the client namespace; parses its final report and its per-exchange timers. */
async function perfdhcp(cliNs: string, rate: number, clients: { macFile?: string; base?: string }, cpuPids: () => number[]): Promise<Trial> {
  const args = [
    'netns',
    'exec',
    cliNs,
    PERFDHCP,
    '-4',
    '-l',
    CLIENT_IF,
    '-r',
    String(rate),
    '-p',
    String(TRIAL_S),
    '-d',
    '1',
    '-W',
    '1500000',
    '-x',
    't',
  ];
  if (clients.macFile) args.push('-M', clients.macFile);
  else args.push('-R', '1000000', '-b', `mac=${clients.base}`);
  const pids = cpuPids();
  const cpu0 = cpuSeconds(pids);
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (text += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (text += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), (TRIAL_S + 30) * 1000);
    child.on('error', reject);
    child.on('exit', () => {
      clearTimeout(timer);
      resolve(text);
    });
  });
  const cpu = cpuSeconds(pids) - cpu0;
  const section = (name: string): Record<string, number> => {
    const i = out.indexOf(`***Statistics for: ${name}***`);
    if (i < 0) return {};
    const body = out.slice(i).split('***Statistics for:')[1] ?? '';
    const fields: Record<string, number> = {};
    for (const m of body.matchAll(/^([a-z ]+):\s*([\d.]+)/gm)) fields[m[1].trim()] = Number(m[2]);
    return fields;
  };
  const dO = section('DISCOVER-OFFER');
  const rA = section('REQUEST-ACK');
  if (dO['sent packets'] === undefined) throw new Error(`perfdhcp gave no report:\n${out.slice(-2000)}`);
  // `-x t`: per exchange type, one "sent / received: HHMMSS.ffffff / HHMMSS.ffffff" line per answered packet
  // (times since perfdhcp started); keep the DISCOVER-OFFER ones.
  const delays: number[] = [];
  const secs = (t: string): number => Number(t.slice(0, 2)) * 3600 + Number(t.slice(2, 4)) * 60 + Number(t.slice(4));
  let inDo = false;
  for (const line of out.split('\n')) {
    if (line.includes('DISCOVER-OFFER')) inDo = true;
    else if (line.includes('REQUEST-ACK')) inDo = false;
    const m = inDo ? /sent \/ received: (\d{6}(?:\.\d+)?) \/ (\d{6}(?:\.\d+)?)/.exec(line) : null;
    if (m) delays.push((secs(m[2]) - secs(m[1])) * 1000);
  }
  delays.sort((a, b) => a - b);
  const sent = dO['sent packets'];
  const acks = rA['received packets'] ?? 0;
  return {
    rate,
    sent,
    acks,
    offers: dO['received packets'] ?? 0,
    dropRatio: sent > 0 ? 1 - acks / sent : 1,
    doraPerSec: acks / TRIAL_S,
    p50: quantile(delays, 0.5),
    p99: quantile(delays, 0.99),
    cpuMsPerDora: acks > 0 ? (cpu * 1000) / acks : null,
  };
}

/** Best rate with < 1 % drops: doubling from `start`, then two bisection steps. */
async function searchRate(name: string, trial: (rate: number) => Promise<Trial>, start: number): Promise<{ best: Trial | null; trials: Trial[] }> {
  const trials: Trial[] = [];
  const run = async (rate: number): Promise<Trial> => {
    const t = await trial(rate);
    trials.push(t);
    log(
      `  ${name} @${rate}/s: ${t.doraPerSec.toFixed(0)} DORA/s, ${(t.dropRatio * 100).toFixed(1)} % unanswered` +
        `${t.p50 !== null ? `, OFFER p50 ${t.p50.toFixed(2)} ms p99 ${t.p99!.toFixed(2)} ms` : ''}` +
        `${t.cpuMsPerDora !== null ? `, ${t.cpuMsPerDora.toFixed(2)} ms CPU/DORA` : ''}`,
    );
    return t;
  };
  let good: Trial | null = null;
  let bad: number | null = null;
  for (let rate = start; rate <= MAX_RATE; rate *= 2) {
    const t = await run(rate);
    if (t.dropRatio < 0.01) good = t;
    else {
      bad = rate;
      break;
    }
  }
  for (let i = 0; i < 2 && bad !== null; i++) {
    const lo = good?.rate ?? Math.floor(bad / 4);
    const mid = Math.round((lo + bad) / 2);
    if (mid <= lo || mid >= bad) break;
    const t = await run(mid);
    if (t.dropRatio < 0.01) good = t;
    else bad = mid;
  }
  return { best: good, trials };
}

interface ServerUnderTest {
  name: 'DLS' | 'dnsmasq';
  /** Prepares the scenario (lease table, reservations) and (re)starts the server when needed. */
  prepare(scenario: 'empty' | 'leases' | 'reservations'): Promise<void>;
  cpuPids(): number[];
  rss(): number;
  stop(): Promise<void>;
}

/** dnsmasq on the bridge (no DNS, no ping check, no per-packet log), its lease file and hosts file per scenario. */
function dnsmasqServer(lab: Lab, dir: string, rangeLine: string): ServerUnderTest {
  let proc: LabProcess | null = null;
  const leaseFile = join(dir, 'dnsmasq.leases');
  const hostsFile = join(dir, 'dnsmasq.hosts');
  const stop = async (): Promise<void> => {
    if (!proc) return;
    const p = proc;
    proc = null;
    p.kill('SIGTERM');
    // A timer that keeps the event loop alive: the lab's children are unref'd, so with an unref'd timer alone Node
    // would find nothing left to wait for and exit in the middle of the bench.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([p.exited, new Promise((r) => (timer = setTimeout(r, 5000)))]);
    clearTimeout(timer);
    p.kill('SIGKILL');
  };
  return {
    name: 'dnsmasq',
    async prepare(scenario) {
      await stop();
      const expiry = Math.floor(Date.now() / 1000) + 86_400;
      const leases =
        scenario === 'leases' ? Array.from({ length: LEASES }, (_, i) => `${expiry} ${leaseMac(i)} ${ipPlus(`${NET}.100.0`, i)} * *`) : [];
      writeFileSync(leaseFile, leases.length ? `${leases.join('\n')}\n` : '');
      const hosts =
        scenario === 'reservations' ? Array.from({ length: RESERVATIONS }, (_, i) => `${reservedMac(i)},${ipPlus(`${NET}.200.0`, i)}`) : [];
      writeFileSync(hostsFile, hosts.length ? `${hosts.join('\n')}\n` : '');
      proc = lab.spawn(
        [
          'dnsmasq',
          '-k',
          '--conf-file=/dev/null',
          '--user=root',
          '--port=0',
          `--interface=${lab.bridge}`,
          '--bind-interfaces',
          '--except-interface=lo',
          `--pid-file=${join(dir, 'dnsmasq.pid')}`,
          `--dhcp-leasefile=${leaseFile}`,
          `--dhcp-hostsfile=${hostsFile}`,
          '--log-facility=-',
          '--quiet-dhcp',
          '--no-ping',
          '--dhcp-authoritative',
          '--dhcp-lease-max=1000000',
          `--dhcp-range=${rangeLine}`,
        ],
        { logFile: join(dir, 'dnsmasq.log') },
      );
      await waitFor('dnsmasq to listen on :67', async () => (await lab.exec(['ss', '-lunp'])).stdout.includes('dnsmasq'), 15_000, 100);
    },
    cpuPids: () => (proc ? [proc.pid] : []),
    rss: () => (proc ? rssMb(proc.pid) : 0),
    stop,
  };
}

/** DLS (dist/, README defaults) with a full range on the bridge; seeded through SQL and restarted per scenario. */
function dlsServer(lab: Lab, dir: string): ServerUnderTest & { rangeId: () => string } {
  let dls: DlsInLab | null = null;
  let rangeId = '';
  let seeded = false;
  mkdirSync(dir, { recursive: true });
  const dataDir = join(dir, 'dls-data');
  const controlPort = pickControlPort();
  const start = async (): Promise<DlsInLab> => {
    dls = await startDlsInLab(lab, { dataDir, logFile: join(dir, 'dls.log'), controlPort });
    return dls;
  };
  /** Runs SQL on DLS's embedded PostgreSQL from inside the namespace (its loopback is the only way in). */
  const sql = async (text: string): Promise<void> => {
    const file = join(dir, 'seed.sql');
    writeFileSync(file, text);
    const code =
      "const {Client}=require('pg');const fs=require('fs');const c=JSON.parse(fs.readFileSync(process.argv[1],'utf8'));" +
      "const cl=new Client({host:'127.0.0.1',port:c.port,user:c.user,password:c.password,database:'dls'});" +
      "cl.connect().then(()=>cl.query(fs.readFileSync(process.argv[2],'utf8'))).then(()=>cl.end()).catch((e)=>{console.error(e.message);process.exit(1)})";
    await lab.exec([process.execPath, '-e', code, join(dataDir, 'postgres', 'credentials.json'), file], { cwd: repoRoot(), timeoutMs: 120_000 });
  };
  const mac = (fmt: string): string => `format('${fmt}', lpad(to_hex(i / 256), 2, '0'), lpad(to_hex(i % 256), 2, '0'))`;
  return {
    name: 'DLS',
    rangeId: () => rangeId,
    async prepare(scenario) {
      if (!dls) await start();
      if (!rangeId) {
        const range = await dls!.ok('POST', '/api/v1/network-ranges', {
          name: 'bench',
          cidr: `${NET}.0.0/16`,
          interface: lab.bridge,
          dhcpMode: 'full',
          poolStart: `${NET}.1.0`,
          poolEnd: `${NET}.255.254`,
          leaseSeconds: 600,
          unknownClientPolicy: 'register',
        });
        rangeId = range.id;
      }
      if (scenario === 'empty' || seeded) return;
      // Seed both tables once (10,000 leases, 1,000 reservations), then restart: DLS loads its client index at start.
      await sql(`
        DELETE FROM dhcp_leases; DELETE FROM clients;
        INSERT INTO clients (mac_address, hostname, enabled)
          SELECT ${mac('0e:00:00:00:%s:%s')}, 'lease-' || i, false FROM generate_series(0, ${LEASES - 1}) i;
        INSERT INTO dhcp_leases (range_id, ip, mac, client_id, state, expires_at)
          SELECT '${rangeId}', '${NET}.100.0'::inet + i, c.mac_address, c.id, 'bound', now() + interval '1 day'
            FROM generate_series(0, ${LEASES - 1}) i JOIN clients c ON c.mac_address = ${mac('0e:00:00:00:%s:%s')};
        INSERT INTO clients (mac_address, hostname, enabled, ip_address)
          SELECT ${mac('0e:00:00:01:%s:%s')}, 'resv-' || i, false, '${NET}.200.0'::inet + i FROM generate_series(0, ${RESERVATIONS - 1}) i;
      `);
      seeded = true;
      await dls!.stop();
      await start();
    },
    cpuPids: () => (dls ? [dls.proc.pid, ...postgresPids(dataDir)] : []),
    rss: () => (dls ? rssMb(dls.proc.pid) : 0),
    async stop() {
      await dls?.stop();
      dls = null;
    },
  };
}

interface ScenarioResult {
  dls: Trial | null;
  ref: Trial | null;
}

/** Prints the table of what has been measured so far (medians over the runs done). */
function printSummary(all: Record<string, ScenarioResult[]>, rssAfterLeases: number, rssMax: number, rssAtRest: number): void {
  const med = (xs: (number | null | undefined)[]): number | null => {
    const v = xs.filter((x): x is number => typeof x === 'number');
    return v.length ? median(v) : null;
  };
  const f = (n: number | null, d = 0): string => (n === null ? '—' : n.toFixed(d));
  console.log(`\nDHCP, perfdhcp DORA, medians of ${all.leases.length} run(s); DLS = dist/ with README defaults, reference = dnsmasq (same run)`);
  console.log('scenario      | dnsmasq DORA/s | DLS DORA/s | ratio | DLS OFFER p50/p99 ms | dnsmasq p50/p99 ms | CPU ms/DORA DLS / dnsmasq');
  for (const s of ['empty', 'leases', 'reservations'] as const) {
    const d = med(all[s].map((r) => r.dls?.doraPerSec));
    const r = med(all[s].map((x) => x.ref?.doraPerSec));
    console.log(
      `${s.padEnd(13)} | ${f(r).padStart(14)} | ${f(d).padStart(10)} | ${(d !== null && r ? (d / r).toFixed(2) : '—').padStart(5)} | ` +
        `${f(med(all[s].map((x) => x.dls?.p50)), 2)} / ${f(med(all[s].map((x) => x.dls?.p99)), 2)}`.padEnd(20) +
        ` | ${f(med(all[s].map((x) => x.ref?.p50)), 2)} / ${f(med(all[s].map((x) => x.ref?.p99)), 2)}`.padEnd(20) +
        ` | ${f(med(all[s].map((x) => x.dls?.cpuMsPerDora)), 2)} / ${f(med(all[s].map((x) => x.ref?.cpuMsPerDora)), 2)}`,
    );
  }
  const lat = all.latency;
  console.log(
    `latency at half the best rate (leases): DLS OFFER p50 ${f(med(lat.map((x) => x.dls?.p50)), 2)} ms, p99 ${f(med(lat.map((x) => x.dls?.p99)), 2)} ms;` +
      ` dnsmasq p50 ${f(med(lat.map((x) => x.ref?.p50)), 2)} ms, p99 ${f(med(lat.map((x) => x.ref?.p99)), 2)} ms`,
  );
  const ov = all.overload;
  const share = (k: 'dls' | 'ref') =>
    med(ov.map((x, i) => (x[k] && all.leases[i][k] ? (100 * x[k].doraPerSec) / all.leases[i][k].doraPerSec : null)));
  console.log(
    `2× overload (leases): DLS completes ${f(med(ov.map((x) => x.dls?.doraPerSec)))} DORA/s = ${f(share('dls'))} % of its best;` +
      ` dnsmasq ${f(med(ov.map((x) => x.ref?.doraPerSec)))} DORA/s = ${f(share('ref'))} % of its best`,
  );
  console.log(
    `DLS RSS with ${LEASES} clients + leases and ${RESERVATIONS} reservations: ${rssAtRest.toFixed(0)} MB at rest (90 s after the load),` +
      ` ${rssAfterLeases.toFixed(0)} MB right after the leases search, at most ${rssMax.toFixed(0)} MB during the bench`,
  );
}

async function main(): Promise<void> {
  const runsArg = process.argv.indexOf('--runs');
  const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 1;
  if (!Number.isInteger(runs) || runs < 1 || runs > 5) throw new Error('--runs must be 1..5');
  const onlyArg = process.argv.indexOf('--only');
  const only = onlyArg > 0 ? process.argv[onlyArg + 1] : null;
  const scenarios = (['empty', 'leases', 'reservations'] as const).filter((s) => only === null || s === only);
  if (scenarios.length === 0) throw new Error('--only must be empty, leases or reservations');
  if (!existsSync(PERFDHCP)) throw new Error(`${PERFDHCP} missing (Debian package kea-admin)`);
  await buildDls();
  const dir = mkdtempSync(join(tmpdir(), 'dls-bench-dhcp-'));
  const namespaces = new Namespaces();
  const lab = await createLab({ name: `bd-srv-${process.pid}`, ipv6: false });
  const guard = setTimeout(() => {
    console.error('bench:dhcp exceeded its time bound; stopping');
    process.kill(process.pid, 'SIGTERM');
  }, benchDeadlineMs(runs));
  guard.unref();
  let dls = dlsServer(lab, join(dir, 'run1'));
  const ref = dnsmasqServer(lab, dir, `${NET}.1.0,${NET}.255.254,255.255.0.0,10m`);
  try {
    const cliNs = await namespaces.add(`bd-cli-${process.pid}`);
    await addBridgePort(lab.ns, lab.bridge, 'bds0', cliNs, CLIENT_IF);
    await lab.exec(['ip', 'addr', 'add', `${NET}.0.1/16`, 'dev', lab.bridge]);
    await execFileP('ip', ['netns', 'exec', cliNs, 'ip', 'addr', 'add', `${NET}.0.2/16`, 'dev', CLIENT_IF]);
    await execFileP('ip', ['netns', 'exec', cliNs, 'ip', 'link', 'set', CLIENT_IF, 'up']);
    const leaseMacs = join(dir, 'lease-macs.txt');
    writeFileSync(leaseMacs, `${Array.from({ length: LEASES }, (_, i) => leaseMac(i)).join('\n')}\n`);
    const reservedMacs = join(dir, 'reserved-macs.txt');
    writeFileSync(reservedMacs, `${Array.from({ length: RESERVATIONS }, (_, i) => reservedMac(i)).join('\n')}\n`);

    const all: Record<string, ScenarioResult[]> = { empty: [], leases: [], reservations: [], overload: [], latency: [] };
    let rssAfterLeases = 0;
    let rssAtRest = 0;
    let rssMax = 0;
    let trialNo = 0;
    for (let run = 1; run <= runs; run++) {
      log(`run ${run}/${runs}`);
      // Each run starts from an empty install (its own data dir), so "empty" is empty every time.
      if (run > 1) {
        await dls.stop();
        dls = dlsServer(lab, join(dir, `run${run}`));
      }
      const results: Record<string, ScenarioResult> = {};
      for (const scenario of scenarios) {
        const clients = scenario === 'empty' ? null : { macFile: scenario === 'leases' ? leaseMacs : reservedMacs };
        const res: ScenarioResult = { dls: null, ref: null };
        // One server at a time on the bridge: DLS, then dnsmasq (both answer broadcasts otherwise).
        for (const server of [dls, ref]) {
          await server.prepare(scenario);
          const trial = (rate: number): Promise<Trial> => {
            trialNo++;
            // Every trial of the empty scenario brings MACs no server has seen (base 0a:<trial>:…).
            const c = clients ?? { base: `0a:${hex(trialNo & 255)}:${hex((trialNo >> 8) & 255)}:00:00:00` };
            return perfdhcp(cliNs, rate, c, () => server.cpuPids()).then((t) => {
              rssMax = Math.max(rssMax, server.name === 'DLS' ? server.rss() : 0);
              return t;
            });
          };
          const startRate = server.name === 'dnsmasq' ? 50 : 100;
          // One discarded trial first: a just-started server (DLS's JIT, PostgreSQL's first checkpoint and
          // caches, dnsmasq's lease file) loses a few % of its first trial, and the search would only go down.
          const warm = await trial(startRate);
          log(`  ${server.name} ${scenario} warm-up @${startRate}/s (discarded): ${(warm.dropRatio * 100).toFixed(1)} % unanswered`);
          const { best } = await searchRate(`${server.name} ${scenario}`, trial, startRate);
          if (server.name === 'DLS') res.dls = best;
          else res.ref = best;
          if (scenario === 'leases') {
            if (server.name === 'DLS') {
              rssAfterLeases = Math.max(rssAfterLeases, dls.rss());
              log(`  DLS memory after the leases search: ${await dlsMemory(lab)}`);
            }
            // Latency at half the best rate, and 2× overload, on the same table.
            const half = Math.max(10, Math.round((best?.rate ?? 100) / 2));
            const lat = await trial(half);
            log(`  ${server.name} latency @${half}/s: OFFER p50 ${lat.p50?.toFixed(2)} ms p99 ${lat.p99?.toFixed(2)} ms`);
            const over = await trial(2 * (best?.rate ?? 100));
            log(
              `  ${server.name} overload @${over.rate}/s: ${over.doraPerSec.toFixed(0)} DORA/s completed` +
                ` (${best ? ((100 * over.doraPerSec) / best.doraPerSec).toFixed(0) : '?'} % of its best), RSS ${server.rss().toFixed(0)} MB`,
            );
            rssMax = Math.max(rssMax, server.name === 'DLS' ? server.rss() : 0);
            if (server.name === 'DLS') {
              log(`  DLS memory after the overload: ${await dlsMemory(lab)}`);
              // The heap V8 grew for the load is given back once it stops (its memory reducer): RSS at rest, 90 s on.
              const rest = await restingRss(() => dls.rss());
              rssAtRest = Math.max(rssAtRest, rest);
              log(`  DLS memory at rest (${LEASES} clients + leases): ${await dlsMemory(lab)}`);
            }
            const key = server.name === 'DLS' ? 'dls' : 'ref';
            (results.latency ??= { dls: null, ref: null })[key] = lat;
            (results.overload ??= { dls: null, ref: null })[key] = over;
          }
          await server.stop();
        }
        results[scenario] = res;
      }
      for (const k of Object.keys(all)) all[k].push(results[k] ?? { dls: null, ref: null });
      printSummary(all, rssAfterLeases, rssMax, rssAtRest);
    }
  } finally {
    clearTimeout(guard);
    await ref.stop().catch(() => undefined);
    await dls.stop().catch(() => undefined);
    await namespaces.cleanup();
    await lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
