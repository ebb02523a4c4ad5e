/**
 * Wire constants for BOOTP/DHCP and the PXE/iPXE extensions DLS speaks.
 * Every value carries the section of the document that defines it.
 */

/** BOOTP `op` field (RFC 951 §3, RFC 2131 §2). */
export enum BootpOp {
  REQUEST = 1,
  REPLY = 2,
}

/** DHCP message types carried in option 53 (RFC 2132 §9.6). */
export enum DhcpMessageType {
  DISCOVER = 1,
  OFFER = 2,
  REQUEST = 3,
  DECLINE = 4,
  ACK = 5,
  NAK = 6,
  RELEASE = 7,
  INFORM = 8,
}

/** DHCP option codes used by DLS (RFC 2132 unless noted). */
export enum DhcpOptionCode {
  /** RFC 2132 §3.1 — single byte, no length. */
  PAD = 0,
  /** RFC 2132 §3.3 */
  SUBNET_MASK = 1,
  /** RFC 2132 §3.5 */
  ROUTER = 3,
  /** RFC 2132 §3.8 */
  DNS_SERVERS = 6,
  /** RFC 2132 §3.14 */
  HOSTNAME = 12,
  /** RFC 2132 §3.17 */
  DOMAIN_NAME = 15,
  /** RFC 2132 §5.3 */
  BROADCAST_ADDRESS = 28,
  /** RFC 2132 §8.4; PXE spec 2.1 §2.4.7 for the PXEClient sub-options. */
  VENDOR_SPECIFIC = 43,
  /** RFC 2132 §9.1 */
  REQUESTED_IP = 50,
  /** RFC 2132 §9.2 */
  LEASE_TIME = 51,
  /** RFC 2132 §9.3 — `file`/`sname` carry options. */
  OVERLOAD = 52,
  /** RFC 2132 §9.6 */
  MESSAGE_TYPE = 53,
  /** RFC 2132 §9.7 */
  SERVER_ID = 54,
  /** RFC 2132 §9.8 */
  PARAM_REQUEST_LIST = 55,
  /** RFC 2132 §9.9 — text for a NAK. */
  MESSAGE = 56,
  /** RFC 2132 §9.10 */
  MAX_MESSAGE_SIZE = 57,
  /** RFC 2132 §9.11 (T1) */
  RENEWAL_TIME = 58,
  /** RFC 2132 §9.12 (T2) */
  REBINDING_TIME = 59,
  /** RFC 2132 §9.13 */
  VENDOR_CLASS = 60,
  /** RFC 2132 §9.14 */
  CLIENT_ID = 61,
  /** RFC 2132 §9.4 */
  TFTP_SERVER_NAME = 66,
  /** RFC 2132 §9.5 */
  BOOTFILE_NAME = 67,
  /** RFC 3004 §4 (iPXE sends a bare string instead). */
  USER_CLASS = 77,
  /** RFC 3046 §2 */
  RELAY_AGENT_INFO = 82,
  /** RFC 4578 §2.1 — list of 16-bit architecture types. */
  CLIENT_ARCH = 93,
  /** RFC 4578 §2.2 — type 1, UNDI major, minor. */
  CLIENT_NDI = 94,
  /** RFC 4578 §2.3 — type 0 + 16-byte UUID. */
  CLIENT_UUID = 97,
  /** RFC 3397 §2 */
  DOMAIN_SEARCH = 119,
  /** iPXE `include/ipxe/dhcp.h` DHCP_EB_ENCAP — iPXE encapsulated options. */
  IPXE_ENCAP = 175,
  /** iSCSI initiator IQN — iPXE `DHCP_ISCSI_INITIATOR_IQN`, not IANA-assigned; iPXE asks for it in option 55. */
  ISCSI_INITIATOR_IQN = 203,
  /** RFC 2132 §3.2 — single byte, no length. */
  END = 255,
}

/** UDP ports (RFC 2131 §4.1; PXE spec 2.1 §2.2.4 for the boot-server port). */
export const BOOTP_SERVER_PORT = 67;
export const BOOTP_CLIENT_PORT = 68;
export const PXE_BOOT_SERVER_PORT = 4011;

/** The DHCP magic cookie 99.130.83.99 (RFC 2131 §3, RFC 2132 §2). */
export const DHCP_MAGIC_COOKIE = 0x63825363;

/** `flags` bit asking the server to broadcast its reply (RFC 2131 §2, Figure 2). */
export const BOOTP_FLAG_BROADCAST = 0x8000;

/** Fixed BOOTP header length before the cookie: op..file (RFC 2131 §2, Figure 1). */
export const BOOTP_HEADER_LENGTH = 236;
/** Header plus magic cookie: the shortest thing we accept as DHCP (RFC 2131 §3). */
export const DHCP_MIN_LENGTH = 240;
/** A BOOTP message is at least 300 bytes; short packets are padded (RFC 951 §3, RFC 1542 §2.1). */
export const BOOTP_MIN_PACKET_LENGTH = 300;
/** Sizes of the fixed fields (RFC 2131 §2, Figure 1). */
export const CHADDR_LENGTH = 16;
export const SNAME_LENGTH = 64;
export const FILE_LENGTH = 128;
/** Field offsets (RFC 2131 §2, Figure 1). */
export const SNAME_OFFSET = 44;
export const FILE_OFFSET = 108;
export const OPTIONS_OFFSET = 240;

/**
 * Every client must accept a 576-byte IP datagram, i.e. a 548-byte DHCP message (an options field of 312 octets)
 * (RFC 2131 §2). Option 57 may raise it, never below 576 (RFC 2132 §9.10).
 */
export const DHCP_MIN_MAX_MESSAGE_SIZE = 576;
export const IP_UDP_HEADER_LENGTH = 28;
/** What fits one Ethernet frame without IP fragmentation (1500 - 20 - 8); PXE ROMs often can't reassemble. */
export const DHCP_ETHERNET_MAX_MESSAGE = 1472;

/** Option 52 values (RFC 2132 §9.3). */
export enum DhcpOverload {
  FILE = 1,
  SNAME = 2,
  BOTH = 3,
}

/**
 * Client system architecture types for option 93 (RFC 4578 §2.1; 10+ from the IANA "Processor Architecture Types"
 * registry).
 */
export enum PxeArch {
  BIOS_X86 = 0,
  NEC_PC98 = 1,
  EFI_ITANIUM = 2,
  DEC_ALPHA = 3,
  ARC_X86 = 4,
  INTEL_LEAN_CLIENT = 5,
  EFI_IA32 = 6,
  /** "EFI BC" in RFC 4578; in practice x64 UEFI firmware (OVMF, EDK2) sends 7. */
  EFI_BC = 7,
  EFI_XSCALE = 8,
  EFI_X64 = 9,
  EFI_ARM32 = 10,
  EFI_ARM64 = 11,
  /** UEFI HTTP boot (UEFI 2.5+ §24.7; IANA registry): the firmware fetches its boot file by URL, not TFTP. */
  EFI_IA32_HTTP = 15,
  EFI_X64_HTTP = 16,
  EFI_BC_HTTP = 17,
  EFI_ARM32_HTTP = 18,
  EFI_ARM64_HTTP = 19,
  BIOS_X86_HTTP = 20,
}

/** Option 94 interface type: UNDI (RFC 4578 §2.2). */
export const PXE_NDI_TYPE_UNDI = 1;
/** Option 97 identifier type: UUID/GUID (RFC 4578 §2.3). */
export const PXE_UUID_TYPE_GUID = 0;
/** Option 60 prefix sent by PXE clients (PXE spec 2.1 §2.4.7; iPXE sends it too). */
export const PXE_VENDOR_CLASS_PREFIX = 'PXEClient';
/**
 * Option 60 prefix of a UEFI HTTP boot client (`HTTPClient:Arch:00016:UNDI:003001`, UEFI 2.5+ §24.7.2). A server
 * that answers it must send option 60 "HTTPClient" back, or the firmware does not take the offer's URL as a boot URI.
 */
export const HTTP_VENDOR_CLASS_PREFIX = 'HTTPClient';

/** PXE sub-options inside option 43 (PXE spec 2.1 §2.4.7, Table 2-1). */
export enum PxeVendorOption {
  DISCOVERY_CONTROL = 6,
  DISCOVERY_MCAST_ADDR = 7,
  BOOT_SERVERS = 8,
  BOOT_MENU = 9,
  MENU_PROMPT = 10,
  BOOT_ITEM = 71,
}

/** PXE_DISCOVERY_CONTROL bits (PXE spec 2.1 §2.4.7). */
export enum PxeDiscoveryControl {
  DISABLE_BROADCAST = 0x01,
  DISABLE_MULTICAST = 0x02,
  ONLY_LISTED_SERVERS = 0x04,
  /** Boot the file named in this reply without boot-server discovery or menu. */
  USE_BOOTFILE = 0x08,
}

/** RFC 3046 §2.0 sub-options of option 82. */
export enum RelayAgentSubOption {
  CIRCUIT_ID = 1,
  REMOTE_ID = 2,
}

/** iPXE encapsulated sub-options of option 175 (iPXE `include/ipxe/dhcp.h`). */
export enum IpxeEncapOption {
  PRIORITY = 1,
  KEEP_SAN = 8,
  SKIP_SAN_BOOT = 9,
  SCRIPTLET = 0x51,
  /** Non-zero: do not wait for ProxyDHCP offers (DHCP_EB_NO_PXEDHCP). */
  NO_PXEDHCP = 176,
  /** Bus type (1 = PCI), vendor id, device id (DHCP_EB_BUS_ID). */
  BUS_ID = 177,
  BIOS_DRIVE = 189,
  USERNAME = 190,
  PASSWORD = 191,
  /** Major, minor, patch (DHCP_EB_VERSION). */
  VERSION = 235,
}

/** iPXE feature markers inside option 175, range 0x10–0x4f (iPXE `include/ipxe/features.h`). */
export enum IpxeFeature {
  PXE_EXT = 0x10,
  ISCSI = 0x11,
  AOE = 0x12,
  HTTP = 0x13,
  HTTPS = 0x14,
  TFTP = 0x15,
  FTP = 0x16,
  DNS = 0x17,
  BZIMAGE = 0x18,
  MULTIBOOT = 0x19,
  SLAM = 0x1a,
  SRP = 0x1b,
  NBI = 0x20,
  PXE = 0x21,
  ELF = 0x22,
  COMBOOT = 0x23,
  EFI = 0x24,
  FCOE = 0x25,
  VLAN = 0x26,
  MENU = 0x27,
  SDI = 0x28,
  NFS = 0x29,
}

/** The user class iPXE announces in option 77. */
export const IPXE_USER_CLASS = 'iPXE';
