import { MalformedPacketError } from '../malformed-packet.error';
import { decodeDhcp, DhcpPacket, encodeDhcp } from './dhcp.codec';
import { DHCP_MAGIC_COOKIE, DhcpMessageType } from './dhcp.constants';
import { buildProxyReply, buildReply } from './dhcp.reply';
import { classifyClient } from './pxe';
import { loadHexFixtures } from './__fixtures__/hex-fixtures';

/**
 * Property fuzz: decodeDhcp and classifyClient throw nothing but MalformedPacketError on any input, and every packet
 * that decodes re-encodes and decodes to the same structure. Seeded (xorshift32) so a failure names its iteration
 * and reproduces.
 */

const SEED = 0xd15b007;
const RANDOM_CASES = 100_000;
const MUTATION_CASES = 100_000;
/** Each half takes ~1–2 s of CPU; the generous cap only absorbs a machine shared with other test runs. */
const FUZZ_TIMEOUT_MS = 120_000;
const INTERESTING_CODES = [53, 50, 52, 54, 57, 93, 97, 77, 175, 60, 61, 55, 82, 12, 67];

/** xorshift32 (Marsaglia 2003): tiny, seedable, and free of Math.* calls, which are slow inside Jest's VM context. */
function xorshift32(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

/** Seeded randomness; random byte runs are windows into a pool filled once from the same PRNG (much cheaper). */
class Rng {
  private readonly next: () => number;
  private readonly pool: Buffer;
  constructor(seed: number) {
    this.next = xorshift32(seed);
    this.pool = Buffer.alloc(1 << 20);
    for (let i = 0; i < this.pool.length; i += 4) this.pool.writeUInt32LE((this.next() * 4294967296) >>> 0, i);
  }
  int(n: number): number {
    return (this.next() * n) | 0;
  }
  byte(): number {
    return this.int(256);
  }
  bytes(n: number): Buffer {
    const at = this.int(this.pool.length - n);
    return Buffer.from(this.pool.subarray(at, at + n));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

function samePacket(a: DhcpPacket, b: DhcpPacket): boolean {
  if (
    a.op !== b.op ||
    a.htype !== b.htype ||
    a.hlen !== b.hlen ||
    a.hops !== b.hops ||
    a.xid !== b.xid ||
    a.secs !== b.secs ||
    a.flags !== b.flags ||
    a.ciaddr !== b.ciaddr ||
    a.yiaddr !== b.yiaddr ||
    a.siaddr !== b.siaddr ||
    a.giaddr !== b.giaddr ||
    a.sname !== b.sname ||
    a.file !== b.file ||
    !a.chaddr.equals(b.chaddr) ||
    a.options.size !== b.options.size
  ) {
    return false;
  }
  const ak = [...a.options.keys()];
  const bk = [...b.options.keys()];
  return ak.every((k, i) => k === bk[i] && a.options.get(k)!.equals(b.options.get(k)!));
}

interface Stats {
  decoded: number;
  rejected: number;
}

/** Runs the property on one input; returns a failure description or null. */
function check(input: Buffer, stats: Stats): string | null {
  let pkt: DhcpPacket;
  try {
    pkt = decodeDhcp(input);
  } catch (err) {
    if (err instanceof MalformedPacketError) {
      stats.rejected++;
      return null;
    }
    return `decodeDhcp threw ${String(err)}`;
  }
  stats.decoded++;
  try {
    classifyClient(pkt);
  } catch (err) {
    if (!(err instanceof MalformedPacketError)) return `classifyClient threw ${String(err)}`;
  }
  let again: DhcpPacket;
  try {
    again = decodeDhcp(encodeDhcp(pkt));
  } catch (err) {
    return `re-encode/decode threw ${String(err)}`;
  }
  return samePacket(pkt, again) ? null : 're-encoded packet decodes differently';
}

/** A header with a valid op and cookie, then `rest` as the options area. */
function framed(rng: Rng, rest: Buffer): Buffer {
  const head = rng.bytes(240);
  head[0] = 1 + rng.int(2);
  head.writeUInt32BE(DHCP_MAGIC_COOKIE, 236);
  if (rng.chance(0.5)) head.fill(0, 44, 236); // empty sname/file, so overload has something sane to parse
  return Buffer.concat([head, rest]);
}

/** Plausible-looking TLVs: mostly right lengths, sometimes wrong, sometimes PAD/END/52. */
function randomTlvs(rng: Rng): Buffer {
  const out = Buffer.alloc(20 * 260);
  let at = 0;
  const count = rng.int(20);
  for (let i = 0; i < count; i++) {
    const r = rng.int(20);
    if (r === 0) out[at++] = 0;
    else if (r === 1) out[at++] = 255;
    else if (r === 2) {
      out[at++] = 52;
      out[at++] = 1;
      out[at++] = rng.int(5);
    } else {
      out[at++] = rng.chance(0.5) ? INTERESTING_CODES[rng.int(INTERESTING_CODES.length)] : rng.byte();
      const len = rng.int(rng.chance(0.9) ? 20 : 256);
      out[at++] = len;
      at += rng.bytes(rng.chance(0.9) ? len : rng.int(len + 4)).copy(out, at);
    }
  }
  return out.subarray(0, at);
}

function randomInput(rng: Rng): Buffer {
  switch (rng.int(3)) {
    case 0:
      return rng.bytes(rng.int(600));
    case 1:
      return framed(rng, rng.bytes(rng.int(360)));
    default:
      return framed(rng, randomTlvs(rng));
  }
}

/** Offsets of option length bytes in the options area (best effort on possibly-broken input). */
function lengthOffsets(buf: Buffer): number[] {
  const out: number[] = [];
  let i = 240;
  while (i + 1 < buf.length) {
    const code = buf[i];
    if (code === 255) break;
    if (code === 0) {
      i++;
      continue;
    }
    out.push(i + 1);
    i += 2 + buf[i + 1];
  }
  return out;
}

function mutate(rng: Rng, seeds: Buffer[]): Buffer {
  let buf = Buffer.from(seeds[rng.int(seeds.length)]);
  const rounds = 1 + rng.int(4);
  for (let r = 0; r < rounds; r++) {
    switch (rng.int(9)) {
      case 0: {
        // bit flips
        const flips = 1 + rng.int(8);
        for (let i = 0; i < flips && buf.length > 0; i++) buf[rng.int(buf.length)] ^= 1 << rng.int(8);
        break;
      }
      case 1: // truncation
        buf = buf.subarray(0, rng.int(buf.length + 1));
        break;
      case 2:
      case 3: {
        // length-byte corruption
        const offsets = lengthOffsets(buf);
        if (offsets.length > 0) {
          const at = offsets[rng.int(offsets.length)];
          buf[at] = rng.chance(0.5) ? rng.byte() : (buf[at] + (rng.chance(0.5) ? 1 : -1)) & 0xff;
        }
        break;
      }
      case 4: {
        // splice two packets
        const other = seeds[rng.int(seeds.length)];
        buf = Buffer.concat([buf.subarray(0, rng.int(buf.length + 1)), other.subarray(rng.int(other.length + 1))]);
        break;
      }
      case 5: {
        // insert random bytes or TLVs
        const at = rng.int(buf.length + 1);
        const insert = rng.chance(0.5) ? rng.bytes(1 + rng.int(16)) : randomTlvs(rng);
        buf = Buffer.concat([buf.subarray(0, at), insert, buf.subarray(at)]);
        break;
      }
      case 6: {
        // delete a slice
        const at = rng.int(buf.length + 1);
        buf = Buffer.concat([buf.subarray(0, at), buf.subarray(at + 1 + rng.int(16))]);
        break;
      }
      case 7: {
        // turn on option overload and scribble TLVs into file/sname
        if (buf.length >= 243) {
          buf = Buffer.concat([buf.subarray(0, 240), Buffer.from([52, 1, 1 + rng.int(3)]), buf.subarray(240)]);
          const tlvs = randomTlvs(rng);
          tlvs.copy(buf, rng.chance(0.5) ? 108 : 44, 0, Math.min(tlvs.length, 64));
        }
        break;
      }
      default:
        if (buf.length > 0) buf[rng.int(buf.length)] = rng.byte();
    }
  }
  return buf;
}

/** Real-looking seeds: the .hex fixtures plus server replies (which exercise option 82, 43, 175, long options). */
function seedPackets(): Buffer[] {
  const seeds = loadHexFixtures().map((f) => f.bytes);
  const requests = seeds.map((s) => decodeDhcp(s));
  for (const req of requests) {
    const type = req.options.get(53)?.[0];
    seeds.push(
      encodeDhcp(
        buildReply(req, {
          messageType: DhcpMessageType.OFFER,
          serverId: '10.213.0.1',
          yiaddr: '10.213.0.150',
          leaseSeconds: 3600,
          subnetMask: '255.255.255.0',
          routers: ['10.213.0.1'],
          bootFile: 'undionly.kpxe',
          extraOptions: new Map([[119, Buffer.alloc(300, 3)]]),
        }),
      ),
    );
    seeds.push(encodeDhcp(buildReply(req, { messageType: DhcpMessageType.NAK, serverId: '10.213.0.1' })));
    if (type === DhcpMessageType.DISCOVER || type === DhcpMessageType.REQUEST) {
      seeds.push(encodeDhcp(buildProxyReply(req, { serverId: '10.213.0.1', bootFile: 'ipxe.efi' })));
    }
  }
  return seeds;
}

describe('DHCP decoder fuzz (seeded)', () => {
  const seeds = seedPackets();
  // Most inputs are rejected; capturing a stack trace for each MalformedPacketError would dominate the run time.
  // The thrown type and behaviour are unchanged; only `err.stack` is shorter during the fuzz.
  const stackTraceLimit = Error.stackTraceLimit;
  beforeAll(() => {
    Error.stackTraceLimit = 0;
  });
  afterAll(() => {
    Error.stackTraceLimit = stackTraceLimit;
  });

  it('has real packets to mutate', () => {
    expect(seeds.length).toBeGreaterThanOrEqual(10);
  });

  it(
    `survives ${RANDOM_CASES} random byte strings`,
    () => {
      const rng = new Rng(SEED);
      const stats: Stats = { decoded: 0, rejected: 0 };
      for (let i = 0; i < RANDOM_CASES; i++) {
        const input = randomInput(rng);
        const failure = check(input, stats);
        if (failure) throw new Error(`seed ${SEED} random case ${i}: ${failure}; input ${input.toString('hex')}`);
      }
      expect(stats.decoded + stats.rejected).toBe(RANDOM_CASES);
      expect(stats.decoded).toBeGreaterThan(RANDOM_CASES / 20);
    },
    FUZZ_TIMEOUT_MS,
  );

  it(
    `survives ${MUTATION_CASES} mutated real packets`,
    () => {
      const rng = new Rng(SEED + 1);
      const stats: Stats = { decoded: 0, rejected: 0 };
      for (let i = 0; i < MUTATION_CASES; i++) {
        const input = mutate(rng, seeds);
        const failure = check(input, stats);
        if (failure) throw new Error(`seed ${SEED + 1} mutation case ${i}: ${failure}; input ${input.toString('hex')}`);
      }
      expect(stats.decoded).toBeGreaterThan(MUTATION_CASES / 10);
      expect(stats.rejected).toBeGreaterThan(MUTATION_CASES / 10);
    },
    FUZZ_TIMEOUT_MS,
  );
});
