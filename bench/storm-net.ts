/**
 * Network pieces of the boot-storm benchmark on top of a lab (test/lab/netns.ts):
 * - {@link widenLabSubnet}: the lab bridge gets a /21 instead of its /24, so a range can lease 1,000 addresses.
 * - {@link attachClientNamespace}: a second namespace for the simulated PCs, joined to the lab bridge by a veth. It
 *   holds the server's address pool as local addresses (`ip route add local <pool> dev lo`): a simulated PC binds its
 *   sockets to the address DHCP gave it and answers ARP for it, exactly as a PC with that address would, without one
 *   `ip addr add` per client. Its own address (outside the pool) and a default route over the veth carry the DHCP
 *   broadcasts.
 * Everything lives inside namespaces named by the caller (`bm-<pid>-…`); nothing touches the host's interfaces.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { Lab } from '../test/lab/netns';

const run = promisify(execFile);

/** Replaces the lab bridge's `<subnet>.1/24` by `<subnet>.1/<prefix>`; returns the new network's CIDR. */
export async function widenLabSubnet(lab: Lab, prefix: number): Promise<{ cidr: string }> {
  const [a, b, c] = lab.subnet.split('.').map(Number);
  const hostBits = 32 - prefix;
  if (prefix < 16 || prefix > 24 || c % (1 << (hostBits - 8)) !== 0) throw new Error(`${lab.subnet}.0 is not the start of a /${prefix}`);
  await lab.exec(['ip', 'addr', 'del', `${lab.serverIp}/24`, 'dev', lab.bridge]);
  await lab.exec(['ip', 'addr', 'add', `${lab.serverIp}/${prefix}`, 'brd', '+', 'dev', lab.bridge]);
  // A thousand neighbours: the default table thresholds (gc_thresh3 = 1024) are host-wide settings where the kernel
  // keeps them per namespace, so raise them only inside the lab, best effort.
  for (const [k, v] of [
    ['net.ipv4.neigh.default.gc_thresh1', 1024],
    ['net.ipv4.neigh.default.gc_thresh2', 4096],
    ['net.ipv4.neigh.default.gc_thresh3', 8192],
  ] as const) {
    await lab.exec(['sysctl', '-q', '-w', `${k}=${v}`]).catch(() => undefined);
  }
  return { cidr: `${a}.${b}.${c}.0/${prefix}` };
}

export interface ClientNamespace {
  ns: string;
  destroy(): Promise<void>;
}

export interface ClientNamespaceOptions {
  /** Namespace name (the bench's prefix and pid). */
  name: string;
  /** The namespace's own address on the lab network (outside the pool). */
  hostIp: string;
  prefix: number;
  /** The server's address pool (CIDR), made local in the client namespace. */
  localPool: string;
}

/** Creates the client namespace and its veth into the lab bridge. Removed by destroy() and on lab teardown. */
export async function attachClientNamespace(lab: Lab, o: ClientNamespaceOptions): Promise<ClientNamespace> {
  const { name: ns } = o;
  const inNs = (argv: string[]): Promise<unknown> => run('ip', ['netns', 'exec', ns, ...argv], { timeout: 15_000 });
  let destroyed = false;
  const destroySync = (): void => {
    if (destroyed) return;
    destroyed = true;
    try {
      for (const pid of execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', timeout: 5000 }).split(/\s+/).filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL'); // only processes this bench started live in its namespace
        } catch {
          /* gone */
        }
      }
    } catch {
      /* namespace gone */
    }
    try {
      execFileSync('ip', ['netns', 'del', ns], { timeout: 5000, stdio: 'ignore' });
    } catch {
      /* gone */
    }
  };
  lab.onDestroy(destroySync);
  try {
    await run('ip', ['netns', 'add', ns]);
    await inNs(['ip', 'link', 'set', 'lo', 'up']);
    await inNs(['sysctl', '-q', '-w', 'net.ipv6.conf.default.disable_ipv6=1']);
    await inNs(['sysctl', '-q', '-w', 'net.ipv4.conf.all.rp_filter=0']);
    await inNs(['sysctl', '-q', '-w', 'net.ipv4.conf.default.rp_filter=0']);
    // The veth is made in the lab namespace; one end moves to the client namespace.
    await lab.exec(['ip', 'link', 'add', 'bmsv0', 'type', 'veth', 'peer', 'name', 'bmcv0']);
    await lab.exec(['ip', 'link', 'set', 'bmcv0', 'netns', ns]);
    await lab.exec(['ip', 'link', 'set', 'bmsv0', 'master', lab.bridge]);
    await lab.exec(['ip', 'link', 'set', 'bmsv0', 'up']);
    await inNs(['ip', 'addr', 'add', `${o.hostIp}/${o.prefix}`, 'dev', 'bmcv0']);
    await inNs(['ip', 'link', 'set', 'bmcv0', 'up']);
    await inNs(['ip', 'route', 'add', 'default', 'dev', 'bmcv0']);
    await inNs(['ip', 'route', 'add', 'local', o.localPool, 'dev', 'lo']);
  } catch (err) {
    destroySync();
    throw err;
  }
  return {
    ns,
    destroy: async () => destroySync(),
  };
}
