import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NeighbourTable, parseArpTable } from './neighbour-table';

const SAMPLE = `IP address       HW type     Flags       HW address            Mask     Device
10.213.0.100     0x1         0x2         52:54:00:D1:5C:01     *        dlsbr0
10.213.0.101     0x1         0x0         00:00:00:00:00:00     *        dlsbr0
10.213.0.102     0x1         0x6         52:54:00:d1:5c:02     *        dlsbr0
garbage
`;

describe('parseArpTable', () => {
  it('keeps complete entries with canonical MACs', () => {
    expect([...parseArpTable(SAMPLE)]).toEqual([
      ['10.213.0.100', '52:54:00:d1:5c:01'],
      ['10.213.0.102', '52:54:00:d1:5c:02'],
    ]);
  });
});

describe('NeighbourTable', () => {
  it('reads a file and answers null for unknown addresses or a missing file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dls-arp-'));
    try {
      writeFileSync(join(dir, 'arp'), SAMPLE);
      const t = new NeighbourTable(join(dir, 'arp'));
      await expect(t.macOf('10.213.0.100')).resolves.toBe('52:54:00:d1:5c:01');
      await expect(t.macOf('10.213.0.101')).resolves.toBeNull();
      await expect(new NeighbourTable(join(dir, 'missing')).macOf('10.213.0.100')).resolves.toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
