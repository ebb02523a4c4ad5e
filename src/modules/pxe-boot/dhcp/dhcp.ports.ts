/**
 * What the framework-free {@link DhcpServer} needs from the rest of DLS, as small interfaces: client facts by MAC,
 * the lease table, the boot-session tracker, a socket to reply through, a logger. The Nest side satisfies them
 * structurally (the catalogue's `BootPolicyService`, `DhcpLeasesService`, `BootSessionTracker`, `InterfaceUdpSocket`, Nest's `Logger`);
 * unit specs hand in fakes. Type-only imports: nothing here loads Nest or TypeORM.
 */
import type { LogLine } from '@common/logging/log-line';
import type { BootLoader } from '../../catalog';
import type { DhcpMetricOutcome, DhcpMetricType } from '../../metrics';
import type { UnknownClientPolicy } from '../../network';
import type { DhcpSeenEvent } from '../boot-session-tracker';
import type { DhcpEventBody } from '../../events';
import type { LeaseClientFacts, LeaseRangeFacts, OfferedAddress, RequestOutcome } from './dhcp-leases.service';

/** What the DHCP server needs to know about a client, by MAC (the boot policy's ClientBootFacts fit). */
export interface DhcpClientFacts {
  id: string;
  hostname: string;
  enabled: boolean;
  pending: boolean;
  /** The assigned image (the boot policy's standing depends on it), or null. */
  assignedImageId: string | null;
  /** Reserved address (clients.ip_address, without /32), or null. */
  ipAddress: string | null;
  /** The client's loader override (clients.boot_loader), or null. */
  bootLoader: BootLoader | null;
  /** UEFI boots Debian's signed chain (shim) instead of iPXE (clients.secure_boot). */
  secureBoot?: boolean;
}

/** Client facts by MAC, and registration of unknown MACs under policy `register`. */
export interface DhcpClientLookup {
  /** The client with this MAC, or null. */
  lookup(mac: string): Promise<DhcpClientFacts | null>;
  /** Registers an unknown MAC seen on range `rangeId` as a disabled, pending client (idempotent). */
  register(mac: string, rangeId: string): Promise<DhcpClientFacts>;
}

/** The lease-table operations the server performs (DhcpLeasesService). */
export interface DhcpLeaseStore {
  offer(range: LeaseRangeFacts, mac: string, facts: LeaseClientFacts): Promise<OfferedAddress | null>;
  request(range: LeaseRangeFacts, mac: string, ip: string, facts: LeaseClientFacts): Promise<RequestOutcome>;
  decline(mac: string, ip: string): Promise<boolean>;
  release(mac: string, ip: string): Promise<boolean>;
  forgetOffer(rangeId: string, mac: string): Promise<void>;
}

/** Where boot steps are reported (BootSessionTracker). */
export interface DhcpBootTracker {
  onDhcp(event: DhcpSeenEvent): void;
}

/** Where each exchange with a client is reported (the events module's publisher); must not block or throw. */
export interface DhcpExchangeSink {
  exchange(event: DhcpEventBody): void;
}

/** The socket a request arrived on, which its reply leaves through (InterfaceUdpSocket). */
export interface DhcpReplySocket {
  readonly isOpen: boolean;
  send(buf: Buffer, port: number, address: string): void;
}

/** Minimal logger; Nest's `Logger` fits. A {@link LogLine} carries MAC / xid / client id as fields. */
export interface DhcpLogger {
  debug(message: string | LogLine): void;
  log(message: string | LogLine): void;
  warn(message: string | LogLine): void;
  error(message: string | LogLine): void;
}

/** Where each handled request is counted (DlsMetrics' `dls_dhcp_packets_total`): in memory, never awaited. */
export interface DhcpPacketCounter {
  count(type: DhcpMetricType, outcome: DhcpMetricOutcome, range: string): void;
}

/** The fields of a network range the server answers from: plain data, a served subset of NetworkRange. */
export interface DhcpRange extends LeaseRangeFacts {
  id: string;
  name: string;
  cidr: string;
  gateway: string | null;
  dnsServers: readonly string[];
  /** Served ranges are never `off`. */
  dhcpMode: 'full' | 'proxy';
  poolStart: string | null;
  poolEnd: string | null;
  leaseSeconds: number;
  nextServer: string | null;
  /** Interface the range is served on. */
  interface: string;
  unknownClientPolicy: UnknownClientPolicy;
}

/** Signs the token of a script URL (`boot-trust/boot-token.ts`): bound to the MAC and, in full mode, to its address. */
export interface DhcpBootTokens {
  sign(mac: string, ip: string | null): string;
}
