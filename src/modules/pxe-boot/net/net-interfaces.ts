/**
 * Facts about one network interface (index, IPv4 address and broadcast, MAC, IPv6 link-local), from
 * os.networkInterfaces() and /sys/class/net. The DHCP server needs the address it answers from and the broadcast
 * address; the router advertiser needs the MAC for the Source Link-Layer Address option.
 */
import { readFileSync } from 'fs';
import { networkInterfaces } from 'os';
import { NetError, NetErrorCode } from './net.errors';

/** Linux interface names: at most IFNAMSIZ-1 = 15 characters; this allow-list also keeps them path-safe. */
export const INTERFACE_NAME_PATTERN = /^[A-Za-z0-9_.-]{1,15}$/;

export interface Ipv4InterfaceAddress {
  address: string;
  netmask: string;
  /** `10.213.0.1/24` */
  cidr: string;
  prefixLength: number;
  broadcast: string;
}

export interface InterfaceInfo {
  name: string;
  /** Kernel interface index, as reported by IP_PKTINFO. */
  index: number;
  /** The first IPv4 address, or null when the interface has none. */
  ipv4: Ipv4InterfaceAddress | null;
  /** `aa:bb:cc:dd:ee:ff` (`00:00:00:00:00:00` for loopback). */
  mac: string;
  /** The first fe80::/10 address without zone, or null. */
  ipv6LinkLocal: string | null;
}

/** Throws NetError INVALID_INTERFACE_NAME unless `name` could be a Linux interface name. */
export function assertInterfaceName(name: string): void {
  if (typeof name !== 'string' || !INTERFACE_NAME_PATTERN.test(name) || name === '.' || name === '..') {
    throw new NetError(NetErrorCode.INVALID_INTERFACE_NAME, `invalid interface name: ${JSON.stringify(name)}`);
  }
}

function ipv4ToInt(address: string): number {
  return address.split('.').reduce((acc, octet) => ((acc << 8) | Number(octet)) >>> 0, 0);
}

function intToIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 0xff).join('.');
}

/** Broadcast address of `address`/`netmask` (RFC 919 directed broadcast: host bits all ones). */
export function ipv4Broadcast(address: string, netmask: string): string {
  return intToIpv4((ipv4ToInt(address) | ~ipv4ToInt(netmask)) >>> 0);
}

function readSys(name: string, attribute: string): string | null {
  try {
    return readFileSync(`/sys/class/net/${name}/${attribute}`, 'utf8').trim();
  } catch {
    return null;
  }
}

/**
 * Describes interface `name` in the current network namespace. Throws NetError INVALID_INTERFACE_NAME or
 * UNKNOWN_INTERFACE (no such interface).
 */
export function interfaceInfo(name: string): InterfaceInfo {
  assertInterfaceName(name);
  const indexText = readSys(name, 'ifindex');
  const index = indexText === null ? NaN : Number(indexText);
  if (!Number.isInteger(index) || index <= 0) {
    throw new NetError(NetErrorCode.UNKNOWN_INTERFACE, `no network interface named ${name}`);
  }
  const addresses = networkInterfaces()[name] ?? [];
  const v4 = addresses.find((a) => a.family === 'IPv4');
  const ll = addresses.find((a) => a.family === 'IPv6' && /^fe[89ab]/i.test(a.address));
  const mac = readSys(name, 'address') ?? addresses[0]?.mac ?? '00:00:00:00:00:00';
  return {
    name,
    index,
    ipv4: v4
      ? {
          address: v4.address,
          netmask: v4.netmask,
          cidr: v4.cidr ?? `${v4.address}/${v4.netmask}`,
          prefixLength: Number((v4.cidr ?? '/32').split('/')[1]),
          broadcast: ipv4Broadcast(v4.address, v4.netmask),
        }
      : null,
    mac,
    ipv6LinkLocal: ll ? ll.address.split('%')[0] : null,
  };
}
