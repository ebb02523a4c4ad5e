/**
 * DHCP policy as a pure function: what a request, the range it arrived for and the client's record call for.
 * The server owns the sockets and the database; this file owns the rules (RFC 2131 §4.3, PXE spec 2.1 §2.2), so
 * every rule has a unit test that needs neither.
 */
import { BootLoader, offersBootFile, standingOf } from '../../catalog';
import { DhcpMode, UnknownClientPolicy } from '../../network';
import { DhcpMessageType, efiPlatformOf, pickBootFile } from '@protocols/dhcp';

const ZERO_IP = '0.0.0.0';

/** Loader a plain BIOS PXE ROM chain-loads over TFTP (measured: QEMU/SeaBIOS path B). */
export const DEFAULT_BIOS_LOADER: BootLoader = 'undionly.kpxe';
/** Loader a plain UEFI PXE stack (arch 6/7/9) chain-loads over TFTP (measured: OVMF path C). */
export const DEFAULT_EFI_LOADER: BootLoader = 'ipxe.efi';
/** What a Secure Boot client's UEFI loads instead: Debian's Microsoft-signed shim, which loads the signed GRUB. */
export const SECURE_BOOT_LOADER = 'shimx64.efi';

/** Which socket a request arrived on: the DHCP port, or the PXE boot-server port 4011 (PXE spec 2.1 §2.2.5). */
export type ArrivalPort = 'dhcp' | 'pxe';

/** The part of a client record the boot policy looks at (an absent image counts as none). */
export interface ClientStanding {
  enabled: boolean;
  pending: boolean;
  assignedImageId?: string | null;
}

/** Whether the boot policy gives this client a boot file (see `offersBootFile`). */
function getsBootFile(client: ClientStanding | null): boolean {
  return offersBootFile(standingOf(client && { ...client, assignedImageId: client.assignedImageId ?? null }));
}

/** Everything {@link decideDhcp} looks at. */
export interface DhcpDecisionInput {
  messageType: DhcpMessageType | null;
  port: ArrivalPort;
  /** Option 60 starts with "PXEClient". */
  isPxe: boolean;
  /** Option 60 starts with "HTTPClient" (UEFI HTTP boot). */
  isHttpClient: boolean;
  mode: Exclude<DhcpMode, 'off'>;
  policy: UnknownClientPolicy;
  /** null: no client with this MAC. */
  client: ClientStanding | null;
  ciaddr: string;
  /** Option 50. */
  requestedIp: string | null;
  /** Option 54 as sent by the client. */
  serverId: string | null;
  /** Our address on the client's network (what we put in option 54). */
  ourServerId: string;
}

/** RFC 2131 §4.3.2 client states a DHCPREQUEST can come from. */
export type RequestState = 'selecting' | 'init-reboot' | 'renewing';

/** The one thing to do with a request. */
export type DhcpAction =
  | { kind: 'drop'; reason: string }
  /** Full mode DISCOVER → OFFER (RFC 2131 §4.3.1). */
  | { kind: 'offer'; boot: boolean }
  /** Full mode REQUEST for `ip` → ACK or NAK, decided by the lease table (RFC 2131 §4.3.2). */
  | { kind: 'request'; ip: string; state: RequestState; boot: boolean }
  /** The client chose another server's offer: drop our offer hold, say nothing (RFC 2131 §4.3.2). */
  | { kind: 'forget-offer' }
  /** RFC 2131 §4.3.3: the address is in use elsewhere; quarantine it. */
  | { kind: 'decline'; ip: string }
  /** RFC 2131 §4.3.4 */
  | { kind: 'release'; ip: string }
  /** RFC 2131 §4.3.5: ACK with configuration, no yiaddr, no lease. */
  | { kind: 'inform'; boot: boolean }
  /** ProxyDHCP OFFER on the DHCP port (PXE spec 2.1 §2.2.1). */
  | { kind: 'proxy-offer' }
  /** ProxyDHCP ACK to a REQUEST on port 4011 (PXE spec 2.1 §2.2.5). */
  | { kind: 'proxy-ack' };

/** The decision: an action, plus whether to register the MAC as a pending client and report the boot step. */
export interface DhcpPlan {
  action: DhcpAction;
  /** Unknown MAC under policy `register`: create a disabled, pending client first. */
  register: boolean;
  /** Known, enabled client: report the step to the boot-session tracker. */
  track: boolean;
}

const drop = (reason: string, register = false): DhcpPlan => ({ action: { kind: 'drop', reason }, register, track: false });

/**
 * Decides what to do with one classified request.
 *
 * - Whether a client gets boot information is the boot policy's call (`offersBootFile`: known, enabled, not
 *   pending). Unknown MACs follow the range policy: `ignore` drops them;
 *   `register` creates a pending client and then, in full mode, gives an address only (proxy mode: nothing).
 *   Disabled and pending clients get an address but no boot file in full mode and nothing in proxy mode.
 * - Full mode follows RFC 2131 §4.3: DISCOVER → OFFER; REQUEST in SELECTING (option 54 present) is ours only when
 *   54 names us, otherwise the client took another server's offer and we forget ours silently; INIT-REBOOT
 *   (no 54, ciaddr 0) asks for option 50; RENEWING/REBINDING (ciaddr set) for ciaddr. DECLINE and RELEASE that
 *   name another server are not ours.
 * - Proxy mode answers only PXE clients (option 60 "PXEClient") and UEFI HTTP boot clients ("HTTPClient"):
 *   DISCOVER on the DHCP port → proxy OFFER, REQUEST on port 4011 → proxy ACK (PXE only: an HTTP boot client takes
 *   its URL from the proxy OFFER and never asks port 4011). Everything else belongs to the real DHCP server.
 */
export function decideDhcp(input: DhcpDecisionInput): DhcpPlan {
  const type = input.messageType;
  if (type === null) return drop('not a DHCP request (no or unknown option 53)');
  if (type === DhcpMessageType.OFFER || type === DhcpMessageType.ACK || type === DhcpMessageType.NAK) {
    return drop(`server message type ${DhcpMessageType[type]} sent to the server`);
  }
  const seeks = type === DhcpMessageType.DISCOVER || type === DhcpMessageType.REQUEST || type === DhcpMessageType.INFORM;

  if (input.mode === 'proxy' || input.port === 'pxe') return decideProxy(input, type, seeks);

  const client = input.client;
  let register = false;
  if (client === null) {
    if (input.policy !== 'register') return drop('unknown client (policy ignore)');
    if (!seeks) return drop('unknown client');
    register = true;
  }
  const bootable = getsBootFile(client);
  const plan = (action: DhcpAction): DhcpPlan => ({ action, register, track: bootable && seeks });
  const notOurs = input.serverId !== null && input.serverId !== input.ourServerId;

  switch (type) {
    case DhcpMessageType.DISCOVER:
      return plan({ kind: 'offer', boot: bootable });
    case DhcpMessageType.REQUEST:
      if (input.serverId !== null) {
        if (notOurs) return { action: { kind: 'forget-offer' }, register: false, track: false };
        if (!input.requestedIp) return drop('REQUEST in SELECTING state without option 50', register);
        return plan({ kind: 'request', ip: input.requestedIp, state: 'selecting', boot: bootable });
      }
      if (input.ciaddr !== ZERO_IP) return plan({ kind: 'request', ip: input.ciaddr, state: 'renewing', boot: bootable });
      if (!input.requestedIp) return drop('REQUEST without server id, ciaddr or option 50', register);
      return plan({ kind: 'request', ip: input.requestedIp, state: 'init-reboot', boot: bootable });
    case DhcpMessageType.DECLINE:
      if (notOurs) return drop('DECLINE for another server');
      if (!input.requestedIp) return drop('DECLINE without option 50');
      return { action: { kind: 'decline', ip: input.requestedIp }, register: false, track: false };
    case DhcpMessageType.RELEASE:
      if (notOurs) return drop('RELEASE for another server');
      if (input.ciaddr === ZERO_IP) return drop('RELEASE without ciaddr');
      return { action: { kind: 'release', ip: input.ciaddr }, register: false, track: false };
    case DhcpMessageType.INFORM:
      return plan({ kind: 'inform', boot: bootable });
    default:
      return drop(`unexpected message type ${String(type)}`);
  }
}

function decideProxy(input: DhcpDecisionInput, type: DhcpMessageType, seeks: boolean): DhcpPlan {
  if (input.mode !== 'proxy') return drop('port 4011 request for a range not in proxy mode');
  if (!input.isPxe && !input.isHttpClient) return drop('proxy mode: not a PXE or UEFI HTTP boot client');
  const client = input.client;
  if (client === null) {
    const register = input.policy === 'register' && seeks;
    return drop(`proxy mode: unknown client (policy ${input.policy})`, register);
  }
  if (!getsBootFile(client)) return drop('proxy mode: client disabled or pending');
  if (input.port === 'dhcp') {
    if (type === DhcpMessageType.DISCOVER) return { action: { kind: 'proxy-offer' }, register: false, track: true };
    return drop(`proxy mode: ${DhcpMessageType[type]} on the DHCP port belongs to the DHCP server`);
  }
  if (type === DhcpMessageType.REQUEST) return { action: { kind: 'proxy-ack' }, register: false, track: true };
  return drop(`proxy mode: ${DhcpMessageType[type]} on port 4011`);
}

/**
 * What a Secure Boot client of a CPU loads: the operator's signed loader when one is set for that CPU (e.g. iPXE's
 * shim, which starts iPXE's signed `ipxe.efi`: the path for images that `sanboot`), else on x64 Debian's shim →
 * GRUB chain (Linux images), else nothing: unsigned iPXE would only be refused by the firmware.
 */
export function secureBootLoaderFor(platform: 'x64' | 'arm64' | 'ia32', signedLoader: string | null): string | null {
  return signedLoader ?? (platform === 'x64' ? SECURE_BOOT_LOADER : null);
}

/** Where a client's boot file comes from. */
export interface BootFileInput {
  mac: string;
  arch: number | null;
  isIpxe: boolean;
  /** UEFI HTTP boot: the loader goes as an http:// URL to DLS's boot files route instead of a TFTP file name. */
  isHttpClient: boolean;
  /** The client's loader override (clients.boot_loader), or null. */
  bootLoader: BootLoader | null;
  /** The client keeps Secure Boot on: a UEFI client gets a signed loader instead of iPXE. */
  secureBoot?: boolean;
  /**
   * The operator's signed loader for this client's CPU (a boot-files path such as `signed/x64/ipxe-shimx64.efi`, see
   * SignedLoadersService), or null: Secure Boot clients get it before Debian's shim.
   */
  signedLoader?: string | null;
  /** Host (address) and port of the HTTP server that serves `/boot/<mac>.ipxe`. */
  httpHost: string;
  httpPort: number;
  /** The boot token for the script URL (see `boot-token.ts`), or null. */
  token: string | null;
}

/** The per-client iPXE script URL; iPXE fetches it over HTTP. `token` (short-lived, per MAC) rides in `?t=`. */
export function bootScriptUrl(httpHost: string, httpPort: number, mac: string, token: string | null = null): string {
  return `http://${httpHost}:${httpPort}/boot/${mac}.ipxe${token ? `?t=${token}` : ''}`;
}

/** Where DLS serves a file of its boot-files root (the TFTP root) over HTTP: UEFI HTTP boot's loader URL. */
export function bootFileUrl(httpHost: string, httpPort: number, file: string): string {
  return `http://${httpHost}:${httpPort}/boot/files/${file.split('/').map(encodeURIComponent).join('/')}`;
}

/**
 * The boot file for a bootable client: iPXE (option 77 "iPXE" or option 175) gets its HTTP script; a plain PXE ROM
 * gets its loader override, else a TFTP loader by option 93 (0 → undionly.kpxe, 6/7/9 → ipxe.efi); a UEFI HTTP
 * boot client (option 60 "HTTPClient", arch 15/16) gets the same choice as a URL of DLS's boot files route; a
 * Secure Boot client on UEFI gets a signed loader instead ({@link secureBootLoaderFor}; BIOS has no Secure Boot: it
 * keeps iPXE); null when the architecture is unknown and there is no override, and for a Secure Boot client that
 * HTTP-boots without an operator's loader (Debian's GRUB does not work over HTTP boot).
 */
export function bootFileFor(input: BootFileInput): string | null {
  const scriptUrl = bootScriptUrl(input.httpHost, input.httpPort, input.mac, input.token);
  if (input.isIpxe) return scriptUrl;
  const platform = efiPlatformOf(input.arch);
  // Debian's chain needs TFTP: loaded over UEFI HTTP boot, Debian 12's signed GRUB gets no network configuration from
  // the firmware and stops at its prompt (measured with OVMF). No offer, so the firmware moves on to its next boot
  // option (PXE); an operator's signed loader (iPXE, which does its own DHCP) is offered over HTTP too.
  if (input.secureBoot === true && platform !== null && input.isHttpClient && !input.signedLoader) return null;
  const loader =
    input.secureBoot === true && platform !== null
      ? secureBootLoaderFor(platform, input.signedLoader ?? null)
      : (input.bootLoader ??
        pickBootFile(input.arch, false, {
          biosLoader: DEFAULT_BIOS_LOADER,
          efiLoader: DEFAULT_EFI_LOADER,
          scriptUrl,
        }));
  if (loader === null || !input.isHttpClient) return loader;
  return bootFileUrl(input.httpHost, input.httpPort, loader);
}
