/**
 * Test harness for the interface-bound socket tests: network namespaces created and deleted by the test,
 * `ip`/`sysctl` run with execFile (argv arrays, timeouts), and fixture scripts spawned inside a namespace that
 * talk JSON lines on stdin/stdout.
 */
import { ChildProcess, execFile, spawn } from 'child_process';
import { join } from 'path';
import { promisify } from 'util';

const execFileP = promisify(execFile);
const NAME = /^[A-Za-z0-9_.-]{1,15}$/;
const NS_NAME = /^[A-Za-z0-9_.-]{1,40}$/;

/** Runs a command (argv, no shell) with a timeout; rejects with its stderr on failure. */
export async function run(file: string, args: string[], timeoutMs = 10_000): Promise<string> {
  try {
    const { stdout } = await execFileP(file, args, { timeout: timeoutMs, encoding: 'utf8' });
    return stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`${file} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`, { cause: err });
  }
}

/** `ip netns exec <ns> <argv…>` */
export function inNs(ns: string, file: string, args: string[], timeoutMs?: number): Promise<string> {
  if (!NS_NAME.test(ns)) throw new Error(`bad namespace name ${ns}`);
  return run('ip', ['netns', 'exec', ns, file, ...args], timeoutMs);
}

/** Sets an IPv4/IPv6 sysctl inside a namespace, e.g. `net.ipv6.conf.br0.accept_dad` = 0. */
export async function sysctl(ns: string, key: string, value: string | number): Promise<void> {
  if (!/^[a-z0-9_.-]+$/.test(key)) throw new Error(`bad sysctl key ${key}`);
  await inNs(ns, 'sysctl', ['-q', '-w', `${key}=${value}`]);
}

/** Creates namespaces and deletes (all of) them on cleanup, even if creation failed half way. */
export class Namespaces {
  private readonly created: string[] = [];

  async add(name: string): Promise<string> {
    if (!NS_NAME.test(name)) throw new Error(`bad namespace name ${name}`);
    await run('ip', ['netns', 'add', name]);
    this.created.push(name);
    await inNs(name, 'ip', ['link', 'set', 'lo', 'up']);
    return name;
  }

  async cleanup(): Promise<void> {
    for (const name of this.created.splice(0).reverse()) {
      await run('ip', ['netns', 'delete', name]).catch(() => undefined);
    }
  }
}

/** Creates a bridge (STP off, no forwarding delay, no multicast snooping) in `ns`. */
export async function addBridge(ns: string, name: string): Promise<void> {
  if (!NAME.test(name)) throw new Error(`bad interface name ${name}`);
  const settings = ['stp_state', '0', 'forward_delay', '0', 'mcast_snooping', '0'];
  await inNs(ns, 'ip', ['link', 'add', name, 'type', 'bridge', ...settings]);
}

/** Creates veth `port` in `ns`, enslaved to `bridge` and up, with its peer `peer` moved into `peerNs` (down). */
export async function addBridgePort(ns: string, bridge: string, port: string, peerNs: string, peer: string): Promise<void> {
  for (const n of [bridge, port, peer]) if (!NAME.test(n)) throw new Error(`bad interface name ${n}`);
  await inNs(ns, 'ip', ['link', 'add', port, 'type', 'veth', 'peer', 'name', peer, 'netns', peerNs]);
  await inNs(ns, 'ip', ['link', 'set', port, 'master', bridge]);
  await inNs(ns, 'ip', ['link', 'set', port, 'up']);
}

/** Polls `probe` until it returns a truthy value or `timeoutMs` passes (then throws with `what`). */
export async function waitFor<T>(what: string, probe: () => T | Promise<T>, timeoutMs = 10_000, everyMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** One JSON object a fixture printed on stdout. */
export type FixtureEvent = { event: string } & Record<string, unknown>;

/** A fixture script running inside a namespace; JSON lines in both directions. */
export class Fixture {
  readonly events: FixtureEvent[] = [];
  readonly stderr: string[] = [];
  private readonly child: ChildProcess;
  private exited = false;

  constructor(ns: string, script: string, config: unknown) {
    if (!NS_NAME.test(ns)) throw new Error(`bad namespace name ${ns}`);
    const argv = ['netns', 'exec', ns, process.execPath, join(__dirname, 'fixtures', script), JSON.stringify(config)];
    this.child = spawn('ip', argv, { stdio: ['pipe', 'pipe', 'pipe'] });
    let pending = '';
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (line.trim()) this.events.push(JSON.parse(line) as FixtureEvent);
      }
    });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => this.stderr.push(chunk));
    this.child.on('exit', () => (this.exited = true));
  }

  /** Sends one command object. */
  command(cmd: Record<string, unknown>): void {
    this.child.stdin!.write(`${JSON.stringify(cmd)}\n`);
  }

  /** All events of one kind matching `filter`. */
  select(event: string, filter: (e: FixtureEvent) => boolean = () => true): FixtureEvent[] {
    return this.events.filter((e) => e.event === event && filter(e));
  }

  /** Waits for the first event of one kind matching `filter`. */
  waitForEvent(event: string, filter: (e: FixtureEvent) => boolean = () => true, timeoutMs = 15_000): Promise<FixtureEvent> {
    const probe = (): FixtureEvent | undefined => {
      const found = this.select(event, filter)[0];
      if (!found && this.exited) throw new Error(`fixture exited; stderr: ${this.stderr.join('').slice(-2000)}`);
      return found;
    };
    return waitFor(`${event} event`, probe, timeoutMs);
  }

  /** Stops the fixture by PID (SIGTERM, then SIGKILL after 2 s) and waits for it to exit. */
  async stop(): Promise<void> {
    if (this.exited || this.child.pid === undefined) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
  }
}
