import { readdirSync, readFileSync } from 'fs';
import { join } from 'path';

/** One packet loaded from `__fixtures__/*.hex`. */
export interface HexFixture {
  name: string;
  bytes: Buffer;
}

/**
 * Loads every `*.hex` file in this folder: one DHCP packet (UDP payload) per file, hex digits with any whitespace.
 * Real captures dropped here later are picked up by the fixture spec and the mutation fuzz automatically.
 */
export function loadHexFixtures(dir: string = __dirname): HexFixture[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.hex'))
    .sort()
    .map((name) => {
      const text = readFileSync(join(dir, name), 'utf8').replace(/\s+/g, '');
      if (!/^([0-9a-fA-F]{2})*$/.test(text)) throw new Error(`${name}: not an even run of hex digits`);
      return { name, bytes: Buffer.from(text, 'hex') };
    });
}
