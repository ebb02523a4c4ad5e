/**
 * Packet capture on the lab bridge (tcpdump inside the namespace) and a minimal classic-pcap reader, so e2e tests can
 * assert on what actually went over the wire (e.g. DHCP replies from the server under test) without extra packages.
 */
import { readFileSync } from 'node:fs';
import { Lab, LabProcess } from './netns';

export interface CaptureOptions {
  /** pcap output file. */
  file: string;
  /** tcpdump filter as argv words, e.g. `['udp', 'port', '67', 'or', 'udp', 'port', '68']`. */
  filter: string[];
  /** tcpdump's own stderr. */
  logFile: string;
  /** Interface inside the namespace (default the lab bridge). */
  iface?: string;
}

export interface Capture {
  file: string;
  /** SIGINT (so tcpdump flushes), waits for it to exit (SIGKILL after 3 s). */
  stop(): Promise<void>;
}

/**
 * Starts `tcpdump -i <bridge> -w <file> -U --immediate-mode -n <filter>` in the namespace and waits until it listens.
 * `--immediate-mode` matters: without it the end of a capture was lost on stop (TPACKET_V3 blocks not flushed).
 */
export async function startCapture(lab: Lab, opts: CaptureOptions): Promise<Capture> {
  const iface = opts.iface ?? lab.bridge;
  const proc: LabProcess = lab.spawn(['tcpdump', '-i', iface, '-w', opts.file, '-U', '--immediate-mode', '-n', ...opts.filter], {
    logFile: opts.logFile,
  });
  let exited = false;
  void proc.exited.then(() => {
    exited = true;
  });
  const deadline = Date.now() + 10_000;
  while (!readText(opts.logFile).includes('listening on')) {
    if (exited || Date.now() > deadline) {
      proc.kill();
      throw new Error(`tcpdump did not start: ${readText(opts.logFile)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    file: opts.file,
    async stop(): Promise<void> {
      proc.kill('SIGINT');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
      await proc.exited;
      clearTimeout(timer);
    },
  };
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** One captured Ethernet frame, decoded down to UDP/ICMPv6 where possible. */
export interface CapturedPacket {
  /** Seconds since the epoch (with microseconds). */
  ts: number;
  srcMac: string;
  dstMac: string;
  etherType: number;
  /** IPv4/IPv6 source/destination when the frame carries IP. */
  src?: string;
  dst?: string;
  /** IP protocol / IPv6 next header (17 UDP, 58 ICMPv6, 6 TCP). */
  protocol?: number;
  srcPort?: number;
  dstPort?: number;
  /** ICMPv6 type (133 RS, 134 RA). */
  icmp6Type?: number;
  /** UDP payload (or TCP payload) bytes. */
  payload?: Buffer;
  frame: Buffer;
}

const PCAP_MAGIC_US = 0xa1b2c3d4;
const PCAP_MAGIC_NS = 0xa1b23c4d;
const LINKTYPE_ETHERNET = 1;

function mac(buf: Buffer, off: number): string {
  return [...buf.subarray(off, off + 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

function ipv6(buf: Buffer, off: number): string {
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(buf.readUInt16BE(off + i).toString(16));
  return parts.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

/** Reads a classic (not pcapng) little- or big-endian Ethernet pcap file as written by `tcpdump -w`. */
export function readPcap(file: string): CapturedPacket[] {
  const buf = readFileSync(file);
  if (buf.length < 24) return [];
  let le: boolean;
  let nano: boolean;
  if (buf.readUInt32LE(0) === PCAP_MAGIC_US || buf.readUInt32LE(0) === PCAP_MAGIC_NS) {
    le = true;
    nano = buf.readUInt32LE(0) === PCAP_MAGIC_NS;
  } else if (buf.readUInt32BE(0) === PCAP_MAGIC_US || buf.readUInt32BE(0) === PCAP_MAGIC_NS) {
    le = false;
    nano = buf.readUInt32BE(0) === PCAP_MAGIC_NS;
  } else {
    throw new Error(`${file}: not a classic pcap file`);
  }
  const u32 = (off: number): number => (le ? buf.readUInt32LE(off) : buf.readUInt32BE(off));
  if (u32(20) !== LINKTYPE_ETHERNET) throw new Error(`${file}: link type ${u32(20)} is not Ethernet`);
  const out: CapturedPacket[] = [];
  let off = 24;
  while (off + 16 <= buf.length) {
    const ts = u32(off) + u32(off + 4) / (nano ? 1e9 : 1e6);
    const capLen = u32(off + 8);
    off += 16;
    if (off + capLen > buf.length) break; // truncated tail
    out.push(decodeFrame(ts, buf.subarray(off, off + capLen)));
    off += capLen;
  }
  return out;
}

function decodeFrame(ts: number, frame: Buffer): CapturedPacket {
  const p: CapturedPacket = {
    ts,
    dstMac: mac(frame, 0),
    srcMac: mac(frame, 6),
    etherType: frame.readUInt16BE(12),
    frame,
  };
  let l4 = -1;
  let l4End = frame.length;
  if (p.etherType === 0x0800 && frame.length >= 34) {
    const ihl = (frame[14] & 0x0f) * 4;
    p.protocol = frame[23];
    p.src = [...frame.subarray(26, 30)].join('.');
    p.dst = [...frame.subarray(30, 34)].join('.');
    l4 = 14 + ihl;
    l4End = Math.min(frame.length, 14 + frame.readUInt16BE(16));
  } else if (p.etherType === 0x86dd && frame.length >= 54) {
    p.protocol = frame[20];
    p.src = ipv6(frame, 22);
    p.dst = ipv6(frame, 38);
    l4 = 54;
    l4End = Math.min(frame.length, 54 + frame.readUInt16BE(18));
  }
  if (l4 < 0) return p;
  if (p.protocol === 17 && l4 + 8 <= l4End) {
    p.srcPort = frame.readUInt16BE(l4);
    p.dstPort = frame.readUInt16BE(l4 + 2);
    p.payload = frame.subarray(l4 + 8, Math.min(l4End, l4 + frame.readUInt16BE(l4 + 4)));
  } else if (p.protocol === 6 && l4 + 20 <= l4End) {
    p.srcPort = frame.readUInt16BE(l4);
    p.dstPort = frame.readUInt16BE(l4 + 2);
    p.payload = frame.subarray(l4 + (frame[l4 + 12] >> 4) * 4, l4End);
  } else if (p.protocol === 58 && l4 < l4End) {
    p.icmp6Type = frame[l4];
  }
  return p;
}

/** DHCP message type (option 53, RFC 2132 §9.6) of a BOOTP payload, or undefined. */
export function dhcpMessageType(payload: Buffer): number | undefined {
  // RFC 2131 §3: fixed header 236 bytes, then the magic cookie 99.130.83.99, then options.
  if (payload.length < 240 || payload.readUInt32BE(236) !== 0x63825363) return undefined;
  let i = 240;
  while (i < payload.length) {
    const code = payload[i];
    if (code === 0) {
      i++;
      continue;
    }
    if (code === 255 || i + 1 >= payload.length) return undefined;
    const len = payload[i + 1];
    if (code === 53 && len >= 1) return payload[i + 2];
    i += 2 + len;
  }
  return undefined;
}

/** RFC 2132 §9.6 message type names. */
export const DHCP_MESSAGE_TYPES: Record<number, string> = {
  1: 'discover',
  2: 'offer',
  3: 'request',
  4: 'decline',
  5: 'ack',
  6: 'nak',
  7: 'release',
  8: 'inform',
};
