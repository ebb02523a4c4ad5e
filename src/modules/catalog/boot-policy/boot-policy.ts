/**
 * The boot policy as pure rules: what a MAC boots now. Every boot path asks these — DHCP (does the reply carry a
 * boot file?), the iPXE script route (which script?), session opening (may a session start?) and disk preparation
 * (which version, which disk policy?) — so the answer is decided in exactly one place. {@link BootPolicyService}
 * feeds them the catalogue's records. Pure: no Nest, no database; one unit test per rule.
 */
import type { DiskPolicy } from '../images/image.entity';

/**
 * Where a MAC stands, in the order the rules are checked:
 * - `unknown`: no client has this MAC;
 * - `pending`: registered by DHCP (policy `register`), waiting for an admin;
 * - `disabled`: known but switched off for network boot (boots locally);
 * - `no-image`: enabled, but no image is assigned yet;
 * - `bootable`: enabled with an image — it gets its disk and a boot script.
 */
export type BootStanding = 'unknown' | 'pending' | 'disabled' | 'no-image' | 'bootable';

/** The fields of a client record the standing depends on. */
export interface StandingFacts {
  enabled: boolean;
  pending: boolean;
  assignedImageId: string | null;
}

/** The standing of a client record (null: no client with that MAC). */
export function standingOf(client: StandingFacts | null): BootStanding {
  if (client === null) return 'unknown';
  if (client.pending) return 'pending';
  if (!client.enabled) return 'disabled';
  if (!client.assignedImageId) return 'no-image';
  return 'bootable';
}

/**
 * Whether DHCP hands the client a boot file (its loader or its script URL). An enabled client without an image
 * gets one too: its script then tells it to wait, so assigning an image takes effect at the next boot without a
 * DHCP change. Unknown, pending and disabled clients get an address only (full mode) or nothing (proxy mode).
 */
export function offersBootFile(standing: BootStanding): boolean {
  return standing === 'bootable' || standing === 'no-image';
}

/** Whether a boot session may be opened: only a client that can really boot something. */
export function mayOpenSession(standing: BootStanding): boolean {
  return standing === 'bootable';
}

/** The disk policy in force: a maintenance disk is always kept; otherwise the client's override, else the image's. */
export function diskPolicyOf(
  client: { diskPolicy: DiskPolicy | null },
  image: { defaultDiskPolicy: DiskPolicy },
  isMaintenance: boolean,
): DiskPolicy {
  if (isMaintenance) return 'persistent';
  return client.diskPolicy ?? image.defaultDiskPolicy;
}

/** Which version a client boots: the image's maintenance client the newest, a pinned client its pin, else the published one. */
export type VersionChoice = { kind: 'newest' } | { kind: 'pinned'; versionId: string } | { kind: 'published' };

export function versionChoiceOf(
  client: { id: string; pinnedSnapshotId: string | null },
  image: { maintenanceClientId: string | null },
): VersionChoice {
  if (image.maintenanceClientId === client.id) return { kind: 'newest' };
  if (client.pinnedSnapshotId) return { kind: 'pinned', versionId: client.pinnedSnapshotId };
  return { kind: 'published' };
}

/** How the chosen disk is started: iPXE `sanboot` of the iSCSI disk, or a kernel/initrd that mounts it (dracut). */
export type BootMethod =
  { kind: 'sanboot' } | { kind: 'kernel'; kernel: string; initrd: string | null; cmdline: string | null; extraCmdline: string | null };

export function bootMethodOf(
  image: { bootKernel: string | null; bootInitrd: string | null; bootCmdline: string | null },
  client: { customBootParams: string | null },
): BootMethod {
  if (!image.bootKernel) return { kind: 'sanboot' };
  return { kind: 'kernel', kernel: image.bootKernel, initrd: image.bootInitrd, cmdline: image.bootCmdline, extraCmdline: client.customBootParams };
}

/**
 * What the boot routes know about one request (`GET /boot/<mac>.ipxe`, `/boot/script.ipxe?mac=`, the failure
 * callback). They hand out a client's iSCSI credentials, so the requester must prove it is that client.
 */
export interface BootRequestFacts {
  /** The MAC in the URL (canonical). */
  mac: string;
  /** The TCP peer. */
  sourceIp: string;
  /** DHCP mode of the enabled boot range whose network holds `sourceIp` (relayed ranges too), or null: none does. */
  rangeMode: 'full' | 'proxy' | null;
  /** Why the URL's token was refused (see `boot-token.ts`), or null when it is good. */
  tokenProblem: string | null;
  /** Full mode: the address DLS currently leases or reserves to this MAC, or null. */
  assignedIp: string | null;
  /** The kernel's neighbour entry for `sourceIp` (resolved by a probe when there was none), or null. */
  neighbourMac: string | null;
}

/** Whether a boot-route request may learn anything, and if not, why (for the log; the client learns nothing). */
export type BootTrust = { ok: true } | { ok: false; reason: string };

/**
 * The trust rule of the boot routes, fail closed:
 * - the requester's address lies in an enabled boot range (loopback, other subnets and reverse proxies do not);
 * - the URL carries the token DLS put in the DHCP answer, unexpired, for this MAC (and, in full mode, this address);
 * - full mode, when DLS leases or reserves an address to the MAC: the request comes from exactly that address;
 * - otherwise (proxy mode, no lease): the kernel's neighbour entry for the requester exists and is that MAC.
 */
export function trustOf(f: BootRequestFacts): BootTrust {
  if (f.rangeMode === null) return { ok: false, reason: `${f.sourceIp} is on no enabled boot network` };
  if (f.tokenProblem !== null) return { ok: false, reason: f.tokenProblem };
  if (f.rangeMode === 'full' && f.assignedIp !== null) {
    return f.assignedIp === f.sourceIp ? { ok: true } : { ok: false, reason: `${f.sourceIp} is not the address DLS gave ${f.mac} (${f.assignedIp})` };
  }
  if (f.neighbourMac === null) return { ok: false, reason: `cannot confirm the MAC of ${f.sourceIp} (no neighbour entry)` };
  return f.neighbourMac === f.mac ? { ok: true } : { ok: false, reason: `${f.sourceIp} is ${f.neighbourMac}, not ${f.mac}` };
}
