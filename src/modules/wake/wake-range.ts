/**
 * Which network range a client is woken on, and whether DLS can send there: pure rules, one unit test each. A magic
 * packet is an Ethernet broadcast: it reaches a PC only on its own segment, so it must leave through the interface
 * of the range the client lives on — never every interface.
 */
import { WakeErrorCode } from './wake.errors';

/** Where the range of a client was learnt, strongest first. */
export const RANGE_SOURCES = ['reservation', 'lease', 'boot-session', 'group-default'] as const;
export type RangeSource = (typeof RANGE_SOURCES)[number];

/** The range each kind of evidence points at (null: none of that kind). */
export type RangeEvidence = Record<RangeSource, string | null>;

/**
 * The client's range: the range holding its reserved address (an admin's statement), else the range of its latest
 * DHCP lease, else the range holding the address of its latest boot session (proxy mode: another server leased it),
 * else the default range of its group (where its unknown MACs are registered). Null when nothing says.
 */
export function chooseWakeRange(e: RangeEvidence): { rangeId: string; source: RangeSource } | null {
  for (const source of RANGE_SOURCES) {
    const rangeId = e[source];
    if (rangeId) return { rangeId, source };
  }
  return null;
}

/** What decides whether DLS can broadcast on a range (the socket itself is the boot plane's to check). */
export interface WakeRangeFacts {
  id: string;
  name: string;
  enabled: boolean;
  dhcpMode: string;
  interface: string | null;
}

/** Why a magic packet can't go out on this range, or null when the boot plane may try. */
export function wakeRangeProblem(r: WakeRangeFacts): { code: WakeErrorCode; message: string } | null {
  if (!r.enabled) return { code: WakeErrorCode.WAKE_RANGE_DISABLED, message: `range ${r.name} is disabled: DLS holds no socket on its network` };
  if (!r.interface) {
    return {
      code: WakeErrorCode.WAKE_RANGE_NO_INTERFACE,
      message: `range ${r.name} has no interface configured: DLS does not know where to send the broadcast`,
    };
  }
  if (r.dhcpMode === 'off') {
    return {
      code: WakeErrorCode.WAKE_RANGE_DHCP_OFF,
      message: `range ${r.name} has dhcpMode off: DLS binds no socket on ${r.interface} to send from`,
    };
  }
  return null;
}
