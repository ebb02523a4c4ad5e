/**
 * The simulated clients of the boot-storm benchmark (bench/storm.bench.ts). Runs INSIDE the storm's client network
 * namespace (`ip netns exec`), which reaches the boot server over a veth in the lab bridge and owns the server's
 * address pool as local addresses (a `local` route), so each simulated PC can send from the address DHCP gave it —
 * as a real PC does, and as the boot route's trust rule requires.
 *
 * Per client, the chain of a PC whose NIC has a plain PXE ROM:
 *   1. `dhcp`:       DORA as a BIOS PXE ROM (option 93 = 0, vendor class PXEClient, broadcast flag) → address + loader
 *   2. `tftp`:       the loader named in the ACK, blksize 1468 + tsize like a PXE ROM, from the leased address
 *   3. `dhcp-ipxe`:  DORA again as the loaded iPXE (user class iPXE, option 175) → the script URL (with its token)
 *   4. `script`:     `GET` of that URL from the leased address
 *   5. `iscsi`:      login with the initiator name and CHAP from the script, read of the first 8 MiB (qemu-io's iscsi
 *                    driver, libiscsi) — process start to exit, like a PC's firmware reading its boot sectors
 * Clients run `concurrency` at a time. Prints one JSON object (`StormClientResult[]` and the wall time) on stdout.
 *
 * Input: `node … bench/storm-client.ts <job.json>` with a {@link StormJob}.
 */
import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import * as dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import { performance } from 'node:perf_hooks';
import { decodeDhcp, encodeDhcp, type DhcpPacket } from '../src/protocols/dhcp/dhcp.codec';
import { BOOTP_FLAG_BROADCAST, DhcpMessageType } from '../src/protocols/dhcp/dhcp.constants';
import { tftpGet } from '../test/tftp/tftp-client';

/** What the orchestrator hands the worker. */
export interface StormJob {
  macs: string[];
  concurrency: number;
  /** Bytes read from each client's disk over iSCSI. */
  readBytes: number;
  /** Per-client deadline for the whole chain (a client still going after it counts as failed). */
  clientTimeoutMs: number;
}

export const STAGES = ['dhcp', 'tftp', 'dhcp-ipxe', 'script', 'iscsi'] as const;
export type Stage = (typeof STAGES)[number];

export interface StormClientResult {
  mac: string;
  ok: boolean;
  /** ms per completed stage. */
  stages: Partial<Record<Stage, number>>;
  /** ms from this client's start to its last stage. */
  totalMs: number;
  /** ms from the storm's start to this client's start. */
  startedAtMs: number;
  ip?: string;
  /** DHCPNAKs this client got (each sent it back to a new DISCOVER). */
  naks: number;
  /** The stage that failed and why. */
  error?: string;
}

export interface StormOutput {
  results: StormClientResult[];
  wallMs: number;
  /** CPU ms the simulated side spent: this process and the children it reaped (qemu-io). */
  cpuMs: number;
}

/** utime + stime (+ reaped children's) of `pid` in ms, from /proc (0 when it is gone). */
export function procCpuMs(pid: number | 'self', withChildren = true): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14-17 (utime, stime, cutime, cstime) are 11-14 after the command; clock ticks of 10 ms (USER_HZ 100).
    const ticks = Number(f[11]) + Number(f[12]) + (withChildren ? Number(f[13]) + Number(f[14]) : 0);
    return ticks * 10;
  } catch {
    return 0;
  }
}

const BOOTP_REQUEST = 1;
/** PXE spec 2.1 §2.2.1: a PXE ROM waits 4, 8, 16, 32 s for an answer before it gives up; we use the first three. */
const DHCP_TIMEOUTS_MS = [4000, 8000, 16000];
const ascii = (s: string): Buffer => Buffer.from(s, 'ascii');
const PXE_PRL = Buffer.from([
  1, 2, 3, 4, 5, 6, 12, 13, 15, 17, 18, 22, 23, 28, 40, 41, 42, 43, 50, 51, 54, 58, 59, 60, 66, 67, 97, 128, 129, 130, 131, 132, 133, 134, 135,
]);
const IPXE_PRL = Buffer.from([1, 3, 6, 7, 12, 15, 17, 26, 43, 60, 66, 67, 119, 128, 129, 130, 131, 132, 133, 134, 135, 175, 203]);
/** iPXE's option 175 (bus id e1000, version 1.0.0, a few feature flags) as the QEMU NIC ROM sends it. */
const IPXE_ENCAP = Buffer.from([177, 5, 0x01, 0x80, 0x86, 0x10, 0x0e, 235, 3, 1, 0, 0, 0x10, 1, 2, 0x11, 1, 1, 0x13, 1, 1, 0x19, 1, 1]);

function macBytes(mac: string): Buffer {
  return Buffer.from(mac.replace(/:/g, ''), 'hex');
}

/** RFC 2131 §4.4.1 DISCOVER / REQUEST of a BIOS PXE ROM (`ipxe` = the chainloaded iPXE's own). */
function clientPacket(kind: 'discover' | 'request', mac: string, xid: number, ipxe: boolean, offer?: { ip: string; serverId: Buffer }): Buffer {
  const chaddr = Buffer.alloc(16);
  macBytes(mac).copy(chaddr);
  const uuid = Buffer.concat([Buffer.from([0]), Buffer.from('00d15000000040008000', 'hex'), macBytes(mac)]);
  const options = new Map<number, Buffer>();
  options.set(53, Buffer.from([kind === 'discover' ? DhcpMessageType.DISCOVER : DhcpMessageType.REQUEST]));
  options.set(57, Buffer.from([0x05, 0xc0]));
  options.set(93, Buffer.from([0, 0]));
  options.set(94, Buffer.from([1, 2, 1]));
  options.set(60, ascii('PXEClient:Arch:00000:UNDI:002001'));
  if (ipxe) options.set(77, ascii('iPXE'));
  options.set(55, ipxe ? IPXE_PRL : PXE_PRL);
  if (offer) {
    options.set(54, offer.serverId);
    options.set(50, Buffer.from(offer.ip.split('.').map(Number)));
  }
  if (ipxe) options.set(175, IPXE_ENCAP);
  options.set(61, Buffer.concat([Buffer.from([1]), macBytes(mac)]));
  options.set(97, uuid);
  const pkt: DhcpPacket = {
    op: BOOTP_REQUEST,
    htype: 1,
    hlen: 6,
    hops: 0,
    xid,
    secs: 0,
    // The server answers by broadcast: the simulated PCs share one veth (one Ethernet address), so a reply unicast to
    // a PC's own MAC would not reach this namespace.
    flags: BOOTP_FLAG_BROADCAST,
    ciaddr: '0.0.0.0',
    yiaddr: '0.0.0.0',
    siaddr: '0.0.0.0',
    giaddr: '0.0.0.0',
    chaddr,
    sname: '',
    file: '',
    options,
  };
  return encodeDhcp(pkt);
}

/** One DHCP socket on port 68 for every simulated client; replies are routed to waiters by xid. */
class DhcpPort {
  private readonly socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  private readonly waiters = new Map<number, (p: DhcpPacket) => void>();
  private usedXids = new Set<number>();

  async open(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.socket.once('error', reject);
      this.socket.bind(68, '0.0.0.0', () => {
        this.socket.setBroadcast(true);
        resolve();
      });
    });
    this.socket.on('message', (msg) => {
      let p: DhcpPacket;
      try {
        p = decodeDhcp(msg);
      } catch {
        return;
      }
      if (p.op !== 2) return;
      this.waiters.get(p.xid)?.(p);
    });
  }

  close(): void {
    this.socket.close();
  }

  xid(): number {
    for (;;) {
      const x = randomInt(1, 0xffffffff);
      if (!this.usedXids.has(x)) {
        this.usedXids.add(x);
        return x;
      }
    }
  }

  /** Sends `pkt` (retransmitting per DHCP_TIMEOUTS_MS) until a reply of one of `types` for `mac` arrives. */
  exchange(pkt: Buffer, xid: number, mac: string, types: DhcpMessageType[]): Promise<DhcpPacket> {
    const want = macBytes(mac);
    return new Promise((resolve, reject) => {
      let attempt = 0;
      let timer: NodeJS.Timeout | undefined;
      const done = (err: Error | null, p?: DhcpPacket): void => {
        if (timer) clearTimeout(timer);
        this.waiters.delete(xid);
        if (err) reject(err);
        else resolve(p!);
      };
      this.waiters.set(xid, (p) => {
        if (!p.chaddr.subarray(0, 6).equals(want)) return;
        const type = p.options.get(53)?.[0] as DhcpMessageType | undefined;
        if (type === DhcpMessageType.NAK) return done(new NakError(`NAK: ${p.options.get(56)?.toString('latin1') ?? ''}`));
        if (type !== undefined && types.includes(type)) done(null, p);
      });
      const send = (): void => {
        if (attempt >= DHCP_TIMEOUTS_MS.length) return done(new Error(`no answer after ${attempt} tries`));
        this.socket.send(pkt, 67, '255.255.255.255');
        timer = setTimeout(send, DHCP_TIMEOUTS_MS[attempt++]);
      };
      send();
    });
  }
}

/** A DHCPNAK: RFC 2131 §3.1 (5) sends the client back to INIT, a new DISCOVER. */
class NakError extends Error {}

/** DORAs after a NAK before the client gives up (a PXE ROM starts over too; the count shows up in the results). */
const MAX_RESTARTS = 3;

/** DORA, starting over after a NAK; returns the ACK and how many NAKs it took. */
async function dora(port: DhcpPort, mac: string, ipxe: boolean): Promise<{ ack: DhcpPacket; naks: number }> {
  for (let naks = 0; ; naks++) {
    const xid = port.xid();
    try {
      const offer = await port.exchange(clientPacket('discover', mac, xid, ipxe), xid, mac, [DhcpMessageType.OFFER]);
      const serverId = offer.options.get(54);
      if (!serverId) throw new Error('OFFER without server identifier');
      const ack = await port.exchange(clientPacket('request', mac, xid, ipxe, { ip: offer.yiaddr, serverId }), xid, mac, [DhcpMessageType.ACK]);
      return { ack, naks };
    } catch (err) {
      if (!(err instanceof NakError) || naks >= MAX_RESTARTS) throw err;
    }
  }
}

function httpGet(url: string, localAddress: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { localAddress, agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** What a sanboot script names: portal, target, LUN, initiator and CHAP (the settings iPXE would use). */
export interface SanbootTarget {
  address: string;
  port: number;
  lun: number;
  target: string;
  initiator: string;
  user?: string;
  password?: string;
}

/** Reads the `set …` lines and the RFC 4173 root path of `sanboot iscsi:<server>:<proto>:<port>:<lun>:<target>`. */
export function parseSanboot(script: string): SanbootTarget | null {
  const setting = (name: string): string | undefined => new RegExp(`^set ${name} (\\S+)$`, 'm').exec(script)?.[1];
  const m = /^sanboot iscsi:([0-9.]+):[^:]*:(\d*):(\d+):(\S+?)(?:\s|$)/m.exec(script);
  const initiator = setting('initiator-iqn');
  if (!m || !initiator) return null;
  return {
    address: m[1],
    port: m[2] ? Number(m[2]) : 3260,
    lun: Number(m[3]),
    target: m[4],
    initiator,
    user: setting('username'),
    password: setting('password'),
  };
}

/** Logs in and reads `bytes` from the LUN through qemu-io's iscsi driver (libiscsi), under a hard kill deadline. */
function iscsiRead(t: SanbootTarget, bytes: number, timeoutS: number): Promise<void> {
  const opts = [
    'driver=iscsi',
    'transport=tcp',
    `portal=${t.address}:${t.port}`,
    `target=${t.target}`,
    `lun=${t.lun}`,
    ...(t.user ? [`user=${t.user}`, `password=${t.password ?? ''}`] : []),
    `initiator-name=${t.initiator}`,
  ].join(',');
  return new Promise((resolve, reject) => {
    execFile(
      'timeout',
      ['-s', 'KILL', String(timeoutS), 'qemu-io', '-r', '--image-opts', opts, '-c', `read 0 ${bytes}`],
      { maxBuffer: 1024 * 1024 },
      (err, stdout, stderr) => {
        const out = `${stdout}${stderr}`;
        if (err || !new RegExp(`read ${bytes}/${bytes} bytes`).test(out))
          reject(new Error(`qemu-io: ${(err?.message ?? '').trim()} ${out.trim().slice(-300)}`));
        else resolve();
      },
    );
  });
}

async function runClient(port: DhcpPort, mac: string, job: StormJob, t0: number): Promise<StormClientResult> {
  const startedAt = performance.now();
  const r: StormClientResult = { mac, ok: false, stages: {}, totalMs: 0, startedAtMs: startedAt - t0, naks: 0 };
  let stage: Stage = 'dhcp';
  const timed = async <T>(s: Stage, fn: () => Promise<T>): Promise<T> => {
    stage = s;
    const a = performance.now();
    const v = await fn();
    r.stages[s] = performance.now() - a;
    return v;
  };
  const deadline = startedAt + job.clientTimeoutMs;
  const left = (): number => Math.max(1000, deadline - performance.now());
  try {
    const first = await timed('dhcp', () => dora(port, mac, false));
    r.naks += first.naks;
    const ack = first.ack;
    const ip = ack.yiaddr;
    r.ip = ip;
    const serverId = ack.options.get(54);
    const tftpServer = ack.siaddr !== '0.0.0.0' ? ack.siaddr : serverId ? [...serverId].join('.') : '';
    if (!ack.file) throw new Error('ACK names no loader');
    await timed('tftp', async () => {
      const got = await tftpGet({
        host: tftpServer,
        port: 69,
        file: ack.file,
        options: { blksize: '1468', tsize: '0' },
        bindAddress: ip,
        timeoutMs: 1000,
        retries: 8,
      });
      if (got.error) throw new Error(`TFTP ${ack.file}: error ${got.error.code} ${got.error.message}`);
      if (got.data.length === 0) throw new Error(`TFTP ${ack.file}: empty`);
    });
    const second = await timed('dhcp-ipxe', () => dora(port, mac, true));
    r.naks += second.naks;
    const ack2 = second.ack;
    if (ack2.yiaddr !== ip) throw new Error(`iPXE got ${ack2.yiaddr}, the ROM had ${ip}`);
    if (!/^https?:\/\//.test(ack2.file)) throw new Error(`ACK to iPXE names ${JSON.stringify(ack2.file)}, not a script URL`);
    const script = await timed('script', async () => {
      const res = await httpGet(ack2.file, ip, Math.min(left(), 30_000));
      if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${res.body.trim().slice(0, 200)}`);
      return res.body;
    });
    const target = parseSanboot(script);
    if (!target) throw new Error(`script has no sanboot: ${script.slice(0, 300)}`);
    await timed('iscsi', () => iscsiRead(target, job.readBytes, Math.ceil(Math.min(left(), 60_000) / 1000)));
    r.ok = true;
  } catch (err) {
    r.error = `${stage}: ${(err as Error).message}`;
  }
  r.totalMs = performance.now() - startedAt;
  return r;
}

async function main(): Promise<void> {
  const job = JSON.parse(readFileSync(process.argv[2], 'utf8')) as StormJob;
  const port = new DhcpPort();
  await port.open();
  const t0 = performance.now();
  const results: StormClientResult[] = new Array(job.macs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < job.macs.length) {
      const i = next++;
      results[i] = await runClient(port, job.macs[i], job, t0);
    }
  };
  await Promise.all(Array.from({ length: Math.min(job.concurrency, job.macs.length) }, worker));
  const out: StormOutput = { results, wallMs: performance.now() - t0, cpuMs: procCpuMs('self') };
  port.close();
  // A pipe write is asynchronous: exit only once all of it (hundreds of KiB for 1,000 clients) has left.
  await new Promise<void>((resolve) => process.stdout.write(`${JSON.stringify(out)}\n`, () => resolve()));
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
