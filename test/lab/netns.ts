/**
 * Boot lab network: a private network namespace with a bridge that QEMU clients (taps) and the server under test
 * (DLS or the reference stack, started with `ip netns exec`) share. Nothing is created outside the namespace except
 * the namespace itself, so DHCP never leaks to the host's interfaces.
 *
 * Inside namespace `dlslab-<pid>-<n>`:
 * - bridge `dlsbr0` (STP off, forward delay 0) with `<subnet>.1/24` and optionally `<ipv6Prefix>1/64`
 * - veth `dlsv0` (enslaved) ↔ `dlsv1` (up, arp_ignore=8): gives the bridge carrier (this kernel has no dummy links)
 * - one tap per client, `dt<mac hex>`, enslaved to the bridge
 *
 * Every process started through `spawn()` is tracked and killed by pid/process group on `destroy()`, which is also
 * registered on process exit / SIGINT / SIGTERM so an aborted test run still tears down.
 */
import { ChildProcess, execFile, execFileSync, spawn as spawnChild } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';

/** MAC address as `aa:bb:cc:dd:ee:ff` (lower or upper case hex). */
export const MAC_PATTERN = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
const SUBNET_PATTERN = /^10\.(\d{1,3})\.(\d{1,3})$/;
const NS_NAME_PATTERN = /^[a-z][a-z0-9-]{0,30}$/;
const IPV6_PREFIX_PATTERN = /^[0-9a-f:]+::$/i;

/** Bridge name inside the namespace (names are per-namespace, so a fixed name cannot collide). */
export const LAB_BRIDGE = 'dlsbr0';
const VETH_BRIDGE_SIDE = 'dlsv0';
const VETH_PEER = 'dlsv1';
const DEFAULT_EXEC_TIMEOUT_MS = 15_000;

export interface LabOptions {
  /** Namespace name; default `dlslab-<pid>-<n>`. Must match /^[a-z][a-z0-9-]{0,30}$/. */
  name?: string;
  /**
   * First three octets, e.g. `10.213.0`. Default: `10.213.<x>` with x derived from pid and a per-process counter so
   * concurrent runs differ (addresses live inside the namespace, so even equal subnets would not clash on the host).
   */
  subnet?: string;
  /**
   * IPv6 on the bridge, needed when something sends router advertisements (iPXE 2019 otherwise waits ~16 s for
   * SLAAC). `true` = prefix `fd00:213:0:<x>::`; a string = that /64 prefix ending in `::`; false = IPv6 off.
   * Default true.
   */
  ipv6?: boolean | string;
  /**
   * Another host on `to`'s boot LAN instead of a lab of its own: this namespace gets one interface named like the
   * bridge (`dlsbr0`, so a range naming that interface is servable here too), plugged into `to`'s bridge by a veth,
   * with address `<to's subnet>.<host>` (and IPv6 `<prefix><host>` when `to` has IPv6). A second DLS node runs there.
   * Such a lab has no bridge: removeBridge, recreateBridge and addTap are for `to`.
   */
  attach?: { to: Lab; host: number };
}

export interface ExecOptions {
  timeoutMs?: number;
  cwd?: string;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
}

export interface SpawnOptions {
  /** stdout and stderr are appended here (the directory is created). stdin is /dev/null. */
  logFile: string;
  cwd?: string;
  /** Environment for the child (default: inherit). Handy for passing config to a DLS server under test. */
  env?: NodeJS.ProcessEnv;
}

/** A process started inside the namespace, leader of its own process group. */
export interface LabProcess {
  pid: number;
  logFile: string;
  /** Resolves with the exit code (or null when killed by a signal). */
  exited: Promise<number | null>;
  /** Sends `signal` (default SIGKILL) to the whole process group; no-op once exited. */
  kill(signal?: NodeJS.Signals): void;
}

export interface Lab {
  /** Network namespace name. */
  ns: string;
  /** Bridge name inside the namespace. */
  bridge: string;
  /** `<subnet>.1`: the server address on the bridge. */
  serverIp: string;
  /** First three octets, e.g. `10.213.7`. */
  subnet: string;
  /** `<subnet>.0/24`. */
  cidr: string;
  /** IPv6 /64 prefix on the bridge (ends in `::`), or undefined when IPv6 is off. */
  ipv6Prefix?: string;
  /** `<ipv6Prefix>1`, or undefined. */
  serverIp6?: string;
  /** Deletes the bridge (its addresses go with it; the carrier veth stays), as if the boot interface did not exist yet. */
  removeBridge(): Promise<void>;
  /** Puts the bridge back exactly as createLab() made it. */
  recreateBridge(): Promise<void>;
  /** Creates tap `dt<mac hex>` in the bridge (idempotent per MAC) and returns its name. */
  addTap(mac: string): Promise<string>;
  /** Runs `ip netns exec <ns> ...argv` (no shell) and resolves with its output; rejects on non-zero exit/timeout. */
  exec(argv: string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Starts `ip netns exec <ns> ...argv` detached (own process group), output to a log file; tracked for destroy(). */
  spawn(argv: string[], opts: SpawnOptions): LabProcess;
  /**
   * Registers a synchronous cleanup (e.g. removing a daemon's socket files) that runs after the processes are killed,
   * also on process exit/SIGINT/SIGTERM. Errors are ignored.
   */
  onDestroy(cleanup: () => void): void;
  /** Kills every spawned process (and anything left in the namespace), deletes taps and namespace. Idempotent. */
  destroy(): Promise<void>;
}

let labCounter = 0;
const liveLabs = new Set<{ destroySync(): void }>();
let exitHooksInstalled = false;

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  const destroyAll = (): void => {
    for (const lab of [...liveLabs]) lab.destroySync();
  };
  process.on('exit', destroyAll);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    const handler = (): void => {
      destroyAll();
      process.removeListener(sig, handler);
      process.kill(process.pid, sig);
    };
    process.on(sig, handler);
  }
}

function run(cmd: string, argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolvePromise, reject) => {
    execFile(cmd, argv, { timeout: opts.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS, cwd: opts.cwd, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`${cmd} ${argv.join(' ')} failed: ${err.message.trim()} ${String(stderr).trim()}`));
      } else {
        resolvePromise({ stdout: String(stdout), stderr: String(stderr) });
      }
    });
  });
}

function runSync(cmd: string, argv: string[]): boolean {
  try {
    execFileSync(cmd, argv, { timeout: DEFAULT_EXEC_TIMEOUT_MS, stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** `52:54:00:12:34:56` → `dt525400123456` (14 chars, under the 15-char IFNAMSIZ limit). */
export function tapNameForMac(mac: string): string {
  if (!MAC_PATTERN.test(mac)) throw new Error(`bad MAC ${JSON.stringify(mac)}`);
  return `dt${mac.replace(/:/g, '').toLowerCase()}`;
}

function defaultSubnet(seq: number): string {
  return `10.213.${((process.pid + seq * 7) % 250) + 1}`;
}

/** Creates the lab namespace, bridge, carrier veth and addresses. Call `destroy()` when done. */
export async function createLab(opts: LabOptions = {}): Promise<Lab> {
  const seq = labCounter++;
  const ns = opts.name ?? `dlslab-${process.pid}-${seq}`;
  if (!NS_NAME_PATTERN.test(ns)) throw new Error(`bad namespace name ${JSON.stringify(ns)}`);
  const attach = opts.attach;
  if (attach && !(Number.isInteger(attach.host) && attach.host >= 2 && attach.host <= 99))
    throw new Error(`attach.host must be 2–99, got ${attach.host}`);
  const subnet = attach?.to.subnet ?? opts.subnet ?? defaultSubnet(seq);
  const m = SUBNET_PATTERN.exec(subnet);
  if (!m || Number(m[1]) > 255 || Number(m[2]) > 255) throw new Error(`subnet must be 10.x.y, got ${subnet}`);
  const serverIp = `${subnet}.${attach?.host ?? 1}`;
  let ipv6Prefix: string | undefined;
  if (attach) ipv6Prefix = attach.to.ipv6Prefix;
  else if (opts.ipv6 === undefined || opts.ipv6 === true) ipv6Prefix = `fd00:213:0:${Number(m[2]).toString(16)}::`;
  else if (typeof opts.ipv6 === 'string') ipv6Prefix = opts.ipv6;
  if (ipv6Prefix !== undefined && !IPV6_PREFIX_PATTERN.test(ipv6Prefix)) {
    throw new Error(`bad IPv6 prefix ${ipv6Prefix}`);
  }

  const processes = new Set<{ pid: number; child: ChildProcess; done: boolean }>();
  const taps = new Set<string>();
  const cleanups: (() => void)[] = [];
  let destroyed = false;

  const nsExec = (argv: string[], o?: ExecOptions): Promise<ExecResult> => run('ip', ['netns', 'exec', ns, ...argv], o);
  const sysctl = (key: string, value: string | number): Promise<ExecResult> => nsExec(['sysctl', '-q', '-w', `${key}=${value}`]);

  const killGroup = (pid: number, signal: NodeJS.Signals = 'SIGKILL'): void => {
    try {
      process.kill(-pid, signal);
    } catch {
      try {
        process.kill(pid, signal);
      } catch {
        /* already gone */
      }
    }
  };

  const destroySync = (): void => {
    if (destroyed) return;
    destroyed = true;
    liveLabs.delete(handle);
    for (const p of processes) if (!p.done) killGroup(p.pid);
    // Anything still attached to the namespace was started by this lab (its name is unique to this process).
    try {
      const pids = execFileSync('ip', ['netns', 'pids', ns], { timeout: 5000, encoding: 'utf8' });
      for (const pid of pids.split(/\s+/).filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    } catch {
      /* namespace already gone */
    }
    for (const tap of taps) runSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'del', tap]);
    runSync('ip', ['netns', 'del', ns]);
    for (const cleanup of cleanups.splice(0)) {
      try {
        cleanup();
      } catch {
        /* best effort */
      }
    }
  };
  const handle = { destroySync };

  /** The bridge with its carrier veth, addresses and IPv6 settings (also what recreateBridge() puts back). */
  const addBridge = async (): Promise<void> => {
    await nsExec(['ip', 'link', 'add', LAB_BRIDGE, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
    await nsExec(['ip', 'link', 'set', VETH_BRIDGE_SIDE, 'master', LAB_BRIDGE]);
    await nsExec(['ip', 'addr', 'add', `${serverIp}/24`, 'dev', LAB_BRIDGE]);
    if (ipv6Prefix) {
      await sysctl(`net.ipv6.conf.${LAB_BRIDGE}.disable_ipv6`, 0);
      await sysctl(`net.ipv6.conf.${LAB_BRIDGE}.accept_ra`, 0);
      await sysctl(`net.ipv6.conf.${LAB_BRIDGE}.router_solicitations`, 0);
      await nsExec(['ip', '-6', 'addr', 'add', `${ipv6Prefix}1/64`, 'dev', LAB_BRIDGE, 'nodad']);
    }
    for (const dev of [VETH_PEER, VETH_BRIDGE_SIDE, LAB_BRIDGE]) await nsExec(['ip', 'link', 'set', dev, 'up']);
  };

  /** `dlsbr0` here is one end of a veth whose other end (`dlsh<host>`) is a port of `to`'s bridge. */
  const plugInto = async (to: Lab): Promise<void> => {
    const port = `dlsh${attach!.host}`;
    await to.exec(['ip', 'link', 'add', port, 'type', 'veth', 'peer', 'name', LAB_BRIDGE, 'netns', ns]);
    await to.exec(['ip', 'link', 'set', port, 'master', to.bridge]);
    await to.exec(['ip', 'link', 'set', port, 'up']);
    await nsExec(['ip', 'addr', 'add', `${serverIp}/24`, 'dev', LAB_BRIDGE]);
    if (ipv6Prefix) {
      await sysctl(`net.ipv6.conf.${LAB_BRIDGE}.disable_ipv6`, 0);
      await sysctl(`net.ipv6.conf.${LAB_BRIDGE}.accept_ra`, 0);
      await sysctl(`net.ipv6.conf.${LAB_BRIDGE}.router_solicitations`, 0);
      await nsExec(['ip', '-6', 'addr', 'add', `${ipv6Prefix}${attach!.host}/64`, 'dev', LAB_BRIDGE, 'nodad']);
    }
    await nsExec(['ip', 'link', 'set', LAB_BRIDGE, 'up']);
  };

  installExitHooks();
  liveLabs.add(handle);
  try {
    await run('ip', ['netns', 'add', ns]);
    await nsExec(['ip', 'link', 'set', 'lo', 'up']);
    // New links inherit "default": no IPv6 (no stray RS/DAD from taps/veth); the bridge opts back in below.
    await sysctl('net.ipv6.conf.default.disable_ipv6', 1);
    await sysctl('net.ipv6.conf.default.accept_ra', 0);
    await sysctl('net.ipv6.conf.default.router_solicitations', 0);
    if (attach) await plugInto(attach.to);
    else {
      await nsExec(['ip', 'link', 'add', VETH_BRIDGE_SIDE, 'type', 'veth', 'peer', 'name', VETH_PEER]);
      await sysctl(`net.ipv4.conf.${VETH_PEER}.arp_ignore`, 8);
      await addBridge();
    }
  } catch (err) {
    destroySync();
    throw err;
  }

  const lab: Lab = {
    ns,
    bridge: LAB_BRIDGE,
    serverIp,
    subnet,
    cidr: `${subnet}.0/24`,
    ipv6Prefix,
    serverIp6: ipv6Prefix ? `${ipv6Prefix}${attach?.host ?? 1}` : undefined,
    async removeBridge(): Promise<void> {
      if (attach) throw new Error('removeBridge: an attached lab has no bridge of its own');
      if (taps.size > 0) throw new Error('removeBridge: the lab has taps; remove the bridge before booting clients');
      await nsExec(['ip', 'link', 'del', LAB_BRIDGE]);
    },
    recreateBridge: () => (attach ? Promise.reject(new Error('recreateBridge: an attached lab has no bridge of its own')) : addBridge()),
    async addTap(mac: string): Promise<string> {
      if (attach) throw new Error('addTap: plug clients into the lab this one is attached to');
      const tap = tapNameForMac(mac);
      if (taps.has(tap)) return tap;
      await nsExec(['ip', 'tuntap', 'add', 'dev', tap, 'mode', 'tap']);
      taps.add(tap);
      await nsExec(['ip', 'link', 'set', tap, 'master', LAB_BRIDGE]);
      await nsExec(['ip', 'link', 'set', tap, 'up']);
      return tap;
    },
    exec: nsExec,
    onDestroy(cleanup: () => void): void {
      if (destroyed) cleanup();
      else cleanups.push(cleanup);
    },
    spawn(argv: string[], o: SpawnOptions): LabProcess {
      if (destroyed) throw new Error(`lab ${ns} is destroyed`);
      mkdirSync(dirname(o.logFile), { recursive: true });
      const fd = openSync(o.logFile, 'a');
      let child: ChildProcess;
      try {
        child = spawnChild('ip', ['netns', 'exec', ns, ...argv], {
          cwd: o.cwd,
          env: o.env,
          detached: true,
          stdio: ['ignore', fd, fd],
        });
      } finally {
        closeSync(fd);
      }
      if (child.pid === undefined) throw new Error(`could not spawn ${argv[0]}`);
      const entry = { pid: child.pid, child, done: false };
      processes.add(entry);
      const exited = new Promise<number | null>((resolveExit) => {
        child.once('exit', (code) => {
          entry.done = true;
          resolveExit(code);
        });
        child.once('error', () => {
          entry.done = true;
          resolveExit(null);
        });
      });
      child.unref();
      return {
        pid: child.pid,
        logFile: o.logFile,
        exited,
        kill(signal: NodeJS.Signals = 'SIGKILL'): void {
          if (!entry.done) killGroup(entry.pid, signal);
        },
      };
    },
    async destroy(): Promise<void> {
      const waits = [...processes].filter((p) => !p.done).map((p) => new Promise((r) => p.child.once('exit', r)));
      destroySync();
      // Give killed children a moment to be reaped so no zombie outlives the caller's afterAll.
      await Promise.race([Promise.all(waits), new Promise((r) => setTimeout(r, 3000))]);
    },
  };
  return lab;
}

/** True when the namespace exists (for tests of the teardown). */
export function namespaceExists(ns: string): boolean {
  return existsSync(`/run/netns/${ns}`);
}
