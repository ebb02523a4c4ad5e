/**
 * Makes IPv6 usable (link-local only) on one boot interface so DLS's router advertisements can go out.
 *
 * Why: many servers run with `net.ipv6.conf.<if>.disable_ipv6=1`. Then the RA socket cannot send
 * (`sendto ENETUNREACH ff02::1%<if>`), and every iPXE client waits ~15 s for IPv6 autoconfiguration (measured
 * 18.8 s against 3.7 s per boot). DLS fixes only what it needs, on that interface only (no `all`/`default` keys):
 * `accept_ra=0` and `forwarding=0` first (the interface must not configure itself from someone else's RA, nor
 * route), `addr_gen_mode=0` when it is 1 (= no link-local address would ever be generated), then `disable_ipv6=0`,
 * and waits until the kernel's link-local address has passed duplicate address detection.
 *
 * An interface whose IPv6 is already on is left exactly as the operator configured it. Nothing is restored on
 * shutdown, on purpose: a link-local-only IPv6 that neither accepts RAs nor forwards is harmless, a crash would
 * leave it anyway, and turning it off again would pull the address from under anything that started to use it.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { assertInterfaceName } from './net-interfaces';

/** What iPXE costs without RAs, for the messages that explain a problem. */
export const NO_RA_COST = 'iPXE will wait ~15 s for IPv6 autoconfiguration on every boot';
/** How long {@link waitForLinkLocal} waits by default (DAD takes ~1 s with the kernel defaults). */
export const LINK_LOCAL_TIMEOUT_MS = 5000;
const LINK_LOCAL_POLL_MS = 50;

/** /proc/net/if_inet6 flags (include/uapi/linux/if_addr.h). */
const IFA_F_DADFAILED = 0x08;
const IFA_F_TENTATIVE = 0x40;
/** /proc/net/if_inet6 scope of a link-local address (IPV6_ADDR_LINKLOCAL). */
const SCOPE_LINK = 0x20;

/** The file access the adapter needs; the default reads and writes /proc (unit specs pass a fake). */
export interface ProcFiles {
  read(path: string): Promise<string>;
  write(path: string, value: string): Promise<void>;
}

export const procFiles: ProcFiles = {
  read: (path) => readFile(path, 'utf8'),
  write: (path, value) => writeFile(path, value),
};

/** The per-interface IPv6 sysctls DLS reads or writes. */
export type Ipv6Key = 'disable_ipv6' | 'accept_ra' | 'forwarding' | 'addr_gen_mode';

/** Reads and writes `/proc/sys/net/ipv6/conf/<if>/<key>`, for one interface, nothing global. */
export class Ipv6Sysctl {
  constructor(
    private readonly files: ProcFiles = procFiles,
    private readonly root = '/proc/sys/net/ipv6/conf',
  ) {}

  path(ifname: string, key: Ipv6Key): string {
    assertInterfaceName(ifname);
    return `${this.root}/${ifname}/${key}`;
  }

  async get(ifname: string, key: Ipv6Key): Promise<number> {
    const text = (await this.files.read(this.path(ifname, key))).trim();
    const value = Number(text);
    if (!/^-?\d+$/.test(text) || !Number.isInteger(value)) throw new Error(`${this.path(ifname, key)}: unexpected value ${JSON.stringify(text)}`);
    return value;
  }

  async set(ifname: string, key: Ipv6Key, value: number): Promise<void> {
    await this.files.write(this.path(ifname, key), `${value}\n`);
  }
}

/** The outcome of {@link enableLinkLocalIpv6}. */
export interface Ipv6Readiness {
  /** True when IPv6 is on and the interface has a usable (non-tentative) link-local address. */
  ready: boolean;
  /** IPv6 is on for the interface (RAs can be tried even if the link-local address is not there yet). */
  ipv6On: boolean;
  /** The sysctls DLS changed, e.g. `['accept_ra=0', 'forwarding=0', 'disable_ipv6=0']` (empty when it changed none). */
  changed: string[];
  /** Why RAs cannot go out (or may not), with the cost and the fix; unset when ready. */
  problem?: string;
}

export interface EnableIpv6Options {
  /** false = the operator opted out (DLS_IPV6_ENABLE=false): read only, change nothing. */
  mayChange: boolean;
  sysctl?: Ipv6Sysctl;
  /** Waits for the link-local address; default {@link waitForLinkLocal}. */
  waitLinkLocal?: (ifname: string) => Promise<boolean>;
}

/** The shell line an operator runs to do by hand what DLS would do. */
function fixFor(ifname: string): string {
  return `enable IPv6 on ${ifname} (echo 0 > /proc/sys/net/ipv6/conf/${ifname}/disable_ipv6)`;
}

/**
 * Decides and applies: IPv6 already on → change nothing; off and `mayChange` → accept_ra=0, forwarding=0,
 * addr_gen_mode=0 if it was 1, disable_ipv6=0; off and not allowed, or a write refused (EACCES, EPERM, EROFS in a
 * container) → not ready, with the cost and the fix. Then waits (bounded) for a non-tentative link-local address.
 * Never throws for the kernel's answers; rejects only for an invalid interface name.
 */
export async function enableLinkLocalIpv6(ifname: string, options: EnableIpv6Options): Promise<Ipv6Readiness> {
  assertInterfaceName(ifname);
  const sysctl = options.sysctl ?? new Ipv6Sysctl();
  const changed: string[] = [];
  let disabled: number;
  try {
    disabled = await sysctl.get(ifname, 'disable_ipv6');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'IPv6 is not available in this kernel or namespace (ipv6.disable=1?)' : (err as Error).message;
    return {
      ready: false,
      ipv6On: false,
      changed,
      problem: `no IPv6 on ${ifname}: ${why}; ${NO_RA_COST}; boot the kernel with IPv6 and ${fixFor(ifname)}`,
    };
  }
  if (disabled !== 0) {
    if (!options.mayChange) {
      return {
        ready: false,
        ipv6On: false,
        changed,
        problem: `IPv6 is disabled on ${ifname} and DLS_IPV6_ENABLE=false: ${NO_RA_COST}; ${fixFor(ifname)} or let DLS do it (DLS_IPV6_ENABLE=true)`,
      };
    }
    try {
      for (const key of ['accept_ra', 'forwarding'] as const) {
        if ((await sysctl.get(ifname, key)) !== 0) {
          await sysctl.set(ifname, key, 0);
          changed.push(`${key}=0`);
        }
      }
      // addr_gen_mode 1 (IN6_ADDR_GEN_MODE_NONE) would leave the interface without a link-local address.
      if ((await sysctl.get(ifname, 'addr_gen_mode').catch(() => 0)) === 1) {
        await sysctl.set(ifname, 'addr_gen_mode', 0);
        changed.push('addr_gen_mode=0');
      }
      await sysctl.set(ifname, 'disable_ipv6', 0);
      changed.push('disable_ipv6=0');
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      return {
        ready: false,
        ipv6On: false,
        changed,
        problem: `IPv6 is disabled on ${ifname} and DLS cannot enable it (${e.code ?? e.message}): ${NO_RA_COST}; ${fixFor(ifname)} or run DLS with CAP_NET_ADMIN and a writable /proc/sys`,
      };
    }
  }
  const wait = options.waitLinkLocal ?? ((name: string) => waitForLinkLocal(name));
  if (!(await wait(ifname))) {
    return {
      ready: false,
      ipv6On: true,
      changed,
      problem: `no usable IPv6 link-local address on ${ifname} yet (link down, DAD pending or failed, addr_gen_mode?): router advertisements are retried, until then ${NO_RA_COST}`,
    };
  }
  return { ready: true, ipv6On: true, changed };
}

/** One line of /proc/net/if_inet6: `fe80000000000000021122fffe334455 03 40 20 80 br0`. */
export interface Inet6Entry {
  address: string;
  scope: number;
  flags: number;
  ifname: string;
}

export function parseIfInet6(text: string): Inet6Entry[] {
  const out: Inet6Entry[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length !== 6 || !/^[0-9a-f]{32}$/i.test(f[0])) continue;
    out.push({ address: f[0].toLowerCase(), scope: parseInt(f[3], 16), flags: parseInt(f[4], 16), ifname: f[5] });
  }
  return out;
}

/** True when `ifname` has a link-local address that passed DAD (neither tentative nor failed). */
export function hasUsableLinkLocal(entries: Inet6Entry[], ifname: string): boolean {
  return entries.some((e) => e.ifname === ifname && e.scope === SCOPE_LINK && (e.flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED)) === 0);
}

/**
 * Waits until `ifname` has a usable link-local address, re-reading /proc/net/if_inet6 every 50 ms, for at most
 * `timeoutMs`. Resolves false on timeout (or when the file cannot be read), never rejects.
 */
export async function waitForLinkLocal(ifname: string, timeoutMs = LINK_LOCAL_TIMEOUT_MS, files: ProcFiles = procFiles): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await files.read('/proc/net/if_inet6').catch(() => '');
    if (hasUsableLinkLocal(parseIfInet6(text), ifname)) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, LINK_LOCAL_POLL_MS).unref());
  }
}
