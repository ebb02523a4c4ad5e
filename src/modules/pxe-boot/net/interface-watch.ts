/**
 * Follows boot interfaces that come and go. A range may be enabled before its bridge exists, while it is down or
 * before it has its IPv4 address, and a bridge may be deleted and re-created (libvirt, a VPN, a lab script). A
 * socket bound to the old interface index hears nothing on the new one. DLS therefore re-checks the interfaces it
 * was asked to serve every {@link INTERFACE_POLL_MS} (cheap: getifaddrs and one /sys read per interface) and lets its
 * owner re-bind when what it can serve changed, instead of waiting for the 60 s range reload.
 *
 * Polling, not netlink: Node has no netlink socket and a 2 s delay is short against a PC's power-on self test.
 */
import { readFileSync } from 'node:fs';
import { interfaceInfo } from './net-interfaces';

/** How often the watched interfaces are re-checked. */
export const INTERFACE_POLL_MS = 2000;
/** IFF_UP in /sys/class/net/<if>/flags. */
const IFF_UP = 0x1;

/** What DLS can do with an interface right now. */
export type InterfaceState =
  { usable: true; index: number; address: string } | { usable: false; reason: 'missing' | 'down' | 'without an IPv4 address'; index?: number };

/** A short, stable text for comparing states: `7 10.0.0.1` or `missing`. */
export function stateKey(state: InterfaceState): string {
  return state.usable ? `${state.index} ${state.address}` : state.reason;
}

/**
 * Probes `name` in the current network namespace: missing, administratively down (IFF_UP clear), without an IPv4
 * address, or usable with its index and first IPv4 address. `fallbackAddress` stands in for a missing IPv4
 * address (DLS_BOOT_SERVER_IP for relay-only interfaces).
 */
export function probeInterface(name: string, fallbackAddress?: string): InterfaceState {
  let info: ReturnType<typeof interfaceInfo>;
  try {
    info = interfaceInfo(name);
  } catch {
    return { usable: false, reason: 'missing' };
  }
  let flags = IFF_UP;
  try {
    flags = parseInt(readFileSync(`/sys/class/net/${name}/flags`, 'utf8').trim(), 16);
  } catch {
    // Gone between the two reads: the next check sees it missing.
  }
  if ((flags & IFF_UP) === 0) return { usable: false, reason: 'down', index: info.index };
  const address = info.ipv4?.address ?? fallbackAddress;
  if (!address) return { usable: false, reason: 'without an IPv4 address', index: info.index };
  return { usable: true, index: info.index, address };
}

export interface InterfaceWatchOptions {
  /** Called (never twice at once) when any watched interface's state differs from the last one recorded. */
  onChange: (names: string[]) => Promise<void> | void;
  probe?: (name: string) => InterfaceState;
  intervalMs?: number;
  /** Reports an onChange that threw or rejected. */
  onError?: (err: Error) => void;
}

/**
 * Polls a set of interface names on an unref'd timer; the next check is scheduled only after the previous one (and
 * its onChange) finished, so checks never overlap. The owner records what it acted on with {@link expect}, so a
 * change is reported once, relative to what the owner last saw.
 */
export class InterfaceWatch {
  private readonly probe: (name: string) => InterfaceState;
  private readonly intervalMs: number;
  private known = new Map<string, string>();
  private timer: NodeJS.Timeout | null = null;
  private running = false;

  constructor(private readonly options: InterfaceWatchOptions) {
    this.probe = options.probe ?? ((name) => probeInterface(name));
    this.intervalMs = options.intervalMs ?? INTERFACE_POLL_MS;
  }

  /** Replaces the watched set with `states` (name → the state the owner just acted on). */
  expect(states: Map<string, InterfaceState>): void {
    this.known = new Map([...states].map(([name, state]) => [name, stateKey(state)]));
  }

  get watched(): string[] {
    return [...this.known.keys()];
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Probes every watched interface once; calls onChange with the names whose state changed. Returns them. */
  async check(): Promise<string[]> {
    const changed: string[] = [];
    for (const [name, key] of this.known) {
      const now = stateKey(this.probe(name));
      if (now === key) continue;
      changed.push(name);
      // Recorded before onChange, so a failing owner is called once per change, not every poll.
      this.known.set(name, now);
    }
    if (changed.length > 0) {
      try {
        await this.options.onChange(changed);
      } catch (err) {
        this.options.onError?.(err as Error);
      }
    }
    return changed;
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.check().finally(() => this.schedule());
    }, this.intervalMs);
    this.timer.unref();
  }
}
