import { readFile } from 'node:fs/promises';
import { normalizeMac } from '@common/mac';

/** Token for the neighbour-table lookup (tests swap it). */
export const NEIGHBOUR_TABLE = Symbol('NEIGHBOUR_TABLE');

/**
 * The kernel's IPv4 neighbour (ARP) table, read from `/proc/net/arp`. When a boot script is requested from an address
 * on a directly attached network, the kernel has just resolved that address to a MAC (it had to, to answer the TCP
 * handshake), so the table tells which machine is really asking — whatever MAC it puts into the URL.
 */
export class NeighbourTable {
  constructor(private readonly file = '/proc/net/arp') {}

  /** MAC of `ip` (canonical), or null when the kernel has no complete entry for it (e.g. a routed client). */
  async macOf(ip: string): Promise<string | null> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch {
      return null;
    }
    return parseArpTable(text).get(ip) ?? null;
  }
}

/** `/proc/net/arp` → ip → canonical MAC, complete entries only (flags has ATF_COM 0x2). */
export function parseArpTable(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6) continue;
    const flags = Number.parseInt(f[2], 16);
    const mac = normalizeMac(f[3]);
    if (!Number.isFinite(flags) || (flags & 0x2) === 0 || !mac || mac === '00:00:00:00:00:00') continue;
    out.set(f[0], mac);
  }
  return out;
}
