/**
 * Helpers for the DHCP server e2e test: fixture processes run inside namespaces (JSON lines both ways), and a raw
 * DHCP client that builds requests with the project's codec.
 */
import { ChildProcess, spawn } from 'child_process';
import { readFileSync } from 'fs';
import { join } from 'path';
import {
  BootpOp,
  DhcpMessageType,
  DhcpOptionCode,
  DhcpPacket,
  encodeDhcp,
  encodeSubOptions,
  IpxeEncapOption,
  setIp,
  setString,
  setU16,
  setU8,
  setU8s,
} from '../../src/protocols/dhcp';
import { waitFor } from '../net/netns-harness';

const NS_NAME = /^[A-Za-z0-9_.-]{1,40}$/;

export type FixtureEvent = { event: string } & Record<string, unknown>;

/** A TypeScript fixture running under `ip netns exec`; killed by its own PID only. */
export class NsProcess {
  readonly events: FixtureEvent[] = [];
  readonly stderr: string[] = [];
  private readonly child: ChildProcess;
  private exited = false;
  private nextId = 1;

  constructor(ns: string, script: string, config: unknown) {
    if (!NS_NAME.test(ns)) throw new Error(`bad namespace name ${ns}`);
    const launcher = join(__dirname, 'fixtures', 'ts-fixture.js');
    const argv = ['netns', 'exec', ns, process.execPath, launcher, join(__dirname, 'fixtures', script), JSON.stringify(config)];
    this.child = spawn('ip', argv, { stdio: ['pipe', 'pipe', 'pipe'] });
    let pending = '';
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (line.trim().startsWith('{')) this.events.push(JSON.parse(line) as FixtureEvent);
      }
    });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr.push(chunk);
      if (this.stderr.length > 2000) this.stderr.splice(0, 1000);
    });
    this.child.on('exit', () => (this.exited = true));
  }

  get running(): boolean {
    return !this.exited;
  }

  command(cmd: Record<string, unknown>): number {
    const id = this.nextId++;
    this.child.stdin!.write(`${JSON.stringify({ id, ...cmd })}\n`);
    return id;
  }

  /** Sends a command and waits for its 'result' event. */
  async call<T = Record<string, unknown>>(cmd: Record<string, unknown>, timeoutMs = 20_000): Promise<T> {
    const id = this.command(cmd);
    const result = await this.waitForEvent('result', (e) => e.id === id, timeoutMs);
    if (result.error) throw new Error(`fixture command ${String(cmd.cmd)} failed: ${JSON.stringify(result.error)}`);
    return result as unknown as T;
  }

  select(event: string, filter: (e: FixtureEvent) => boolean = () => true): FixtureEvent[] {
    return this.events.filter((e) => e.event === event && filter(e));
  }

  waitForEvent(event: string, filter: (e: FixtureEvent) => boolean = () => true, timeoutMs = 15_000): Promise<FixtureEvent> {
    return waitFor(
      `${event} event`,
      () => {
        const found = this.select(event, filter)[0];
        if (!found && this.exited) throw new Error(`fixture exited; stderr: ${this.stderr.join('').slice(-3000)}`);
        return found;
      },
      timeoutMs,
      20,
    );
  }

  /** SIGKILL at once (a crash: nothing is closed or flushed); waits for the exit. */
  async kill(): Promise<void> {
    if (this.exited || this.child.pid === undefined) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    // The pid is `ip netns exec`'s, which exec()s node: the fixture itself.
    this.child.kill('SIGKILL');
    await exited;
  }

  /** SIGTERM (the fixture closes and stops what it started), SIGKILL after `graceMs`; waits for the exit. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.exited || this.child.pid === undefined) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }
}

/** What a test DHCP client puts in a request. */
export interface RequestSpec {
  type: DhcpMessageType;
  mac: string;
  xid: number;
  ciaddr?: string;
  giaddr?: string;
  hops?: number;
  flags?: number;
  requestedIp?: string;
  serverId?: string;
  /** iPXE: option 77 "iPXE" and 175 (feature flags), as the QEMU ROM sends (boot-chain facts, path A). */
  ipxe?: boolean;
  /** Option 60 "PXEClient:Arch:…" and option 93 with this architecture. */
  pxeArch?: number;
}

/** Builds a client request the way the measured firmware does (options 53, 57, 93, 94, 60, 77, 55, 175, 61). */
export function buildRequest(spec: RequestSpec): Buffer {
  const chaddr = Buffer.alloc(16);
  Buffer.from(spec.mac.replace(/:/g, ''), 'hex').copy(chaddr);
  const options = new Map<number, Buffer>();
  setU8(options, DhcpOptionCode.MESSAGE_TYPE, spec.type);
  setU16(options, DhcpOptionCode.MAX_MESSAGE_SIZE, 1472);
  if (spec.pxeArch !== undefined) {
    options.set(DhcpOptionCode.CLIENT_ARCH, Buffer.from([0, spec.pxeArch]));
    options.set(DhcpOptionCode.CLIENT_NDI, Buffer.from([1, 2, 1]));
    const arch = String(spec.pxeArch).padStart(5, '0');
    setString(options, DhcpOptionCode.VENDOR_CLASS, `PXEClient:Arch:${arch}:UNDI:002001`);
  }
  if (spec.ipxe) options.set(DhcpOptionCode.USER_CLASS, Buffer.from('iPXE'));
  setU8s(options, DhcpOptionCode.PARAM_REQUEST_LIST, [1, 3, 6, 12, 15, 43, 60, 66, 67, 175, 203]);
  if (spec.ipxe) {
    const encap = new Map([
      [IpxeEncapOption.VERSION, Buffer.from([1, 0, 0])],
      [0x13, Buffer.from([1])], // HTTP feature
      [0x11, Buffer.from([1])], // iSCSI feature
    ]);
    options.set(DhcpOptionCode.IPXE_ENCAP, encodeSubOptions(encap));
  }
  if (spec.requestedIp) setIp(options, DhcpOptionCode.REQUESTED_IP, spec.requestedIp);
  if (spec.serverId) setIp(options, DhcpOptionCode.SERVER_ID, spec.serverId);
  options.set(DhcpOptionCode.CLIENT_ID, Buffer.concat([Buffer.from([1]), chaddr.subarray(0, 6)]));
  const pkt: DhcpPacket = {
    op: BootpOp.REQUEST,
    htype: 1,
    hlen: 6,
    hops: spec.hops ?? 0,
    xid: spec.xid,
    secs: 0,
    flags: spec.flags ?? 0,
    ciaddr: spec.ciaddr ?? '0.0.0.0',
    yiaddr: '0.0.0.0',
    siaddr: '0.0.0.0',
    giaddr: spec.giaddr ?? '0.0.0.0',
    chaddr,
    sname: '',
    file: '',
    options,
  };
  return encodeDhcp(pkt);
}

/**
 * Safety net for afterAll: stops, by the PID in its `postmaster.pid`, an embedded PostgreSQL that a DHCP fixture
 * under `baseDir` started and that outlived it (a killed fixture cannot stop its own).
 */
export function stopLeftoverPostgres(baseDir: string): void {
  for (const dir of [join(baseDir, 'data'), join(baseDir, 'postgres', 'data')]) {
    try {
      const pgPid = Number(readFileSync(join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      if (pgPid > 1) process.kill(pgPid, 'SIGTERM');
    } catch {
      // not running
    }
  }
}
