import { MalformedPacketError } from '../malformed-packet.error';
import { decodeTftp, encodeAck, encodeData, encodeError, encodeOack, encodeRrq, encodeTftp, encodeWrq, type TftpPacket } from './tftp.codec';
import { TftpOpcode } from './tftp.constants';
import { negotiateReadOptions } from './tftp.options';

/** mulberry32: small seeded PRNG so failures replay. Returns uniform floats in [0, 1). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * 1 MiB of seeded random bytes, filled once; random byte strings are copied out of it at random offsets, which keeps
 * generation cheap next to decoding (per-byte PRNG calls dominated the run time under Jest).
 */
const POOL = ((): Buffer => {
  const rnd = prng(0xdecafbad);
  const pool = Buffer.alloc(1 << 20);
  for (let i = 0; i < pool.length; i += 4) pool.writeUInt32LE(Math.floor(rnd() * 4294967296), i);
  return pool;
})();

const SEED = 0x7f7f2024;
const RANDOM_CASES = 100_000;
const MUTATED_CASES = 100_000;

interface Outcome {
  decoded: number;
  malformed: number;
  failures: string[];
}

/** Decodes one input; anything but a packet or MalformedPacketError is a failure. Decoded packets must round-trip. */
function probe(buf: Buffer, outcome: Outcome): void {
  let packet: TftpPacket;
  try {
    packet = decodeTftp(buf);
  } catch (err) {
    if (err instanceof MalformedPacketError) outcome.malformed++;
    else if (outcome.failures.length < 10) outcome.failures.push(`${buf.toString('hex')}: ${String(err)}`);
    return;
  }
  outcome.decoded++;
  try {
    const again = decodeTftp(encodeTftp(packet));
    if (JSON.stringify(summary(again)) !== JSON.stringify(summary(packet))) throw new Error('round trip differs');
    if (packet.opcode === TftpOpcode.RRQ) negotiateReadOptions(packet.options, buf.length);
  } catch (err) {
    if (outcome.failures.length < 10) outcome.failures.push(`${buf.toString('hex')}: ${String(err)}`);
  }
}

function summary(p: TftpPacket): unknown {
  switch (p.opcode) {
    case TftpOpcode.DATA:
      return [p.opcode, p.block, p.data.toString('hex')];
    case TftpOpcode.RRQ:
    case TftpOpcode.WRQ:
      return [p.opcode, p.filename, p.mode, [...p.options]];
    case TftpOpcode.OACK:
      return [p.opcode, [...p.options]];
    default:
      return p;
  }
}

function randomBytes(rnd: () => number, length: number): Buffer {
  const start = Math.floor(rnd() * (POOL.length - length));
  return Buffer.from(POOL.subarray(start, start + length));
}

/** Random datagrams, biased to look like TFTP: opcode 0..7 half of the time, NULs sprinkled in. */
function randomPacket(rnd: () => number): Buffer {
  if (rnd() < 0.002) {
    // rare large datagram around the DATA size limit; a cheap fill keeps the run short
    const large = Buffer.alloc(65460 + Math.floor(rnd() * 16), Math.floor(rnd() * 256));
    large.writeUInt16BE(Math.floor(rnd() * 8), 0);
    return large;
  }
  const length = Math.floor(rnd() * 48);
  const buf = randomBytes(rnd, length);
  if (length >= 2 && rnd() < 0.5) buf.writeUInt16BE(Math.floor(rnd() * 8), 0);
  // sprinkle NULs (about 15% of the bytes) so strings terminate and options pair up
  for (let k = Math.floor(length * 0.15); k > 0 && length > 2; k--) buf[2 + Math.floor(rnd() * (length - 2))] = 0;
  return buf;
}

const word = (rnd: () => number): string =>
  ['blksize', 'tsize', 'timeout', 'windowsize', 'BlkSize', 'x', '', 'ipxe.efi', '1468', '0', '65535', 'ü'][Math.floor(rnd() * 12)];

function validPacket(rnd: () => number): Buffer {
  const opts = (): Array<[string, string]> => Array.from({ length: Math.floor(rnd() * 4) }, () => [word(rnd) || 'k', word(rnd)] as [string, string]);
  switch (Math.floor(rnd() * 6)) {
    case 0:
      return encodeRrq(word(rnd) || 'undionly.kpxe', rnd() < 0.8 ? 'octet' : 'NetAscii', opts());
    case 1:
      return encodeWrq(word(rnd) || 'f', 'octet', opts());
    case 2:
      return encodeData(Math.floor(rnd() * 65536), randomBytes(rnd, Math.floor(rnd() * 64)));
    case 3:
      return encodeAck(Math.floor(rnd() * 65536));
    case 4:
      return encodeError(Math.floor(rnd() * 9), word(rnd));
    default:
      return encodeOack(opts());
  }
}

/** Bit flips, byte overwrites, truncation, extension, splices and NUL removal on a valid packet. */
function mutate(rnd: () => number, input: Buffer): Buffer {
  let buf = Buffer.from(input);
  const rounds = 1 + Math.floor(rnd() * 4);
  for (let i = 0; i < rounds; i++) {
    const pos = buf.length === 0 ? 0 : Math.floor(rnd() * buf.length);
    switch (Math.floor(rnd() * 7)) {
      case 0:
        if (buf.length) buf[pos] ^= 1 << Math.floor(rnd() * 8);
        break;
      case 1:
        if (buf.length) buf[pos] = [0, 0xff, 0x80, 0x7f, 1][Math.floor(rnd() * 5)];
        break;
      case 2:
        buf = buf.subarray(0, pos);
        break;
      case 3:
        buf = Buffer.concat([buf, randomBytes(rnd, Math.floor(rnd() * 8))]);
        break;
      case 4: {
        const nul = buf.indexOf(0, 2);
        if (nul >= 0) buf = Buffer.concat([buf.subarray(0, nul), buf.subarray(nul + 1)]);
        break;
      }
      case 5:
        buf = Buffer.concat([buf.subarray(0, pos), randomBytes(rnd, 1 + Math.floor(rnd() * 4)), buf.subarray(pos)]);
        break;
      default:
        if (buf.length >= 2) buf.writeUInt16BE(Math.floor(rnd() * 9), 0);
        break;
    }
  }
  return buf;
}

describe('decodeTftp fuzz (seeded)', () => {
  // Stack capture dominates the cost of ~100k throws and says nothing about the property under test.
  const stackTraceLimit = Error.stackTraceLimit;
  beforeAll(() => {
    Error.stackTraceLimit = 0;
  });
  afterAll(() => {
    Error.stackTraceLimit = stackTraceLimit;
  });

  it(`${RANDOM_CASES} random datagrams: only MalformedPacketError escapes, decoded packets round-trip`, () => {
    const rnd = prng(SEED);
    const outcome: Outcome = { decoded: 0, malformed: 0, failures: [] };
    for (let i = 0; i < RANDOM_CASES; i++) probe(randomPacket(rnd), outcome);
    expect(outcome.failures).toEqual([]);
    expect(outcome.decoded + outcome.malformed).toBe(RANDOM_CASES);
    expect(outcome.decoded).toBeGreaterThan(1000); // the bias really reaches the decoders
    expect(outcome.malformed).toBeGreaterThan(1000);
  });

  it(`${MUTATED_CASES} mutated valid packets: only MalformedPacketError escapes, decoded packets round-trip`, () => {
    const rnd = prng(SEED ^ 0x5a5a5a5a);
    const outcome: Outcome = { decoded: 0, malformed: 0, failures: [] };
    // 4096 distinct valid packets, each mutated ~25 times in different ways
    const seeds = Array.from({ length: 4096 }, () => validPacket(rnd));
    for (let i = 0; i < MUTATED_CASES; i++) probe(mutate(rnd, seeds[Math.floor(rnd() * seeds.length)]), outcome);
    expect(outcome.failures).toEqual([]);
    expect(outcome.decoded + outcome.malformed).toBe(MUTATED_CASES);
    expect(outcome.decoded).toBeGreaterThan(10_000);
    expect(outcome.malformed).toBeGreaterThan(10_000);
  });

  it('non-Buffer input is refused with MalformedPacketError', () => {
    expect(() => decodeTftp(undefined as unknown as Buffer)).toThrow(MalformedPacketError);
    expect(() => decodeTftp('0001' as unknown as Buffer)).toThrow(MalformedPacketError);
  });
});
