import { filterIndex, indexClients, ipToNumber, NO_FILTER, sortIndex, type Client } from './client-filter';

function client(p: Partial<Client> & { hostname: string }): Client {
  const img = p.assignedImageId ?? null;
  return {
    id: `id-${p.hostname}`,
    macAddress: '52:54:00:00:00:01',
    bootMode: 'pxe',
    cpuCores: 2,
    memoryMb: 2048,
    enabled: true,
    pending: false,
    secureBoot: false,
    createdAt: '2026-01-01T00:00:00Z',
    updatedAt: '2026-01-01T00:00:00Z',
    bootCount: 0,
    version: 1,
    effective: {
      imageId: { value: img, source: img ? 'client' : 'default' },
      pinnedSnapshotId: { value: null, source: 'default' },
      diskPolicy: { value: null, source: 'default' },
      bootLoader: { value: null, source: 'default' },
      customBootParams: { value: null, source: 'default' },
    },
    ...p,
  };
}

const names = {
  images: new Map([
    ['img-w', 'Win11-base'],
    ['img-u', 'ubuntu'],
  ]),
  groups: new Map([
    ['g-a', 'room-a'],
    ['g-b', 'room-b'],
  ]),
};

const clients = [
  client({ hostname: 'PC-02', macAddress: '52:54:00:aa:00:02', ipAddress: '10.0.0.10', groupId: 'g-a', bootCount: 5, assignedImageId: 'img-w' }),
  client({ hostname: 'pc-01', macAddress: '52:54:00:aa:00:01', ipAddress: '10.0.0.9', groupId: 'g-b', bootCount: 9, enabled: false }),
  client({ hostname: 'lab-1', macAddress: 'de:ad:be:ef:00:01', pending: true, lastBootAt: '2026-02-01T00:00:00Z' }),
  client({
    hostname: 'lab-2',
    macAddress: 'de:ad:be:ef:00:02',
    ipAddress: '9.255.0.1',
    groupId: 'g-a',
    effective: {
      imageId: { value: 'img-u', source: 'group' },
      pinnedSnapshotId: { value: null, source: 'default' },
      diskPolicy: { value: 'persistent', source: 'group' },
      bootLoader: { value: null, source: 'default' },
      customBootParams: { value: null, source: 'default' },
    },
  }),
];
const index = indexClients(clients, names);
const hosts = (cs: Client[]) => cs.map((c) => c.hostname);

describe('clients filter', () => {
  const sorted = sortIndex(index, null);
  it('with no filter keeps every row, by hostname', () => {
    expect(hosts(filterIndex(sorted, NO_FILTER))).toEqual(['lab-1', 'lab-2', 'pc-01', 'PC-02']);
  });
  it('q is a hostname prefix in any case', () => {
    expect(hosts(filterIndex(sorted, { ...NO_FILTER, q: 'Pc-0' }))).toEqual(['pc-01', 'PC-02']);
    expect(hosts(filterIndex(sorted, { ...NO_FILTER, q: 'c-0' }))).toEqual([]);
  });
  it('q is a MAC prefix in any case, with - or :', () => {
    expect(hosts(filterIndex(sorted, { ...NO_FILTER, q: 'DE-AD-BE-EF-00-0' }))).toEqual(['lab-1', 'lab-2']);
    expect(hosts(filterIndex(sorted, { ...NO_FILTER, q: '52:54:00:aa:00:02' }))).toEqual(['PC-02']);
  });
  it("q is a prefix of the effective image's name (own or the group's)", () => {
    expect(hosts(filterIndex(sorted, { ...NO_FILTER, q: 'win' }))).toEqual(['PC-02']);
    expect(hosts(filterIndex(sorted, { ...NO_FILTER, q: 'UBU' }))).toEqual(['lab-2']);
  });
  it('filters by group, no group, effective image, no image, enabled and pending', () => {
    expect(hosts(filterIndex(sorted, { ...NO_FILTER, groupId: 'g-a' }))).toEqual(['lab-2', 'PC-02']);
    expect(hosts(filterIndex(sorted, { ...NO_FILTER, groupId: 'none' }))).toEqual(['lab-1']);
    expect(hosts(filterIndex(sorted, { ...NO_FILTER, imageId: 'img-u' }))).toEqual(['lab-2']);
    expect(hosts(filterIndex(sorted, { ...NO_FILTER, imageId: 'none' }))).toEqual(['lab-1', 'pc-01']);
    expect(hosts(filterIndex(sorted, { ...NO_FILTER, enabledOnly: true }))).toEqual(['lab-1', 'lab-2', 'PC-02']);
    expect(hosts(filterIndex(sorted, { ...NO_FILTER, pending: 'pending' }))).toEqual(['lab-1']);
    expect(hosts(filterIndex(sorted, { ...NO_FILTER, pending: 'registered' }))).toHaveLength(3);
  });
  it('combines conditions (all must hold)', () => {
    expect(hosts(filterIndex(sorted, { ...NO_FILTER, q: 'pc', groupId: 'g-a', enabledOnly: true }))).toEqual(['PC-02']);
    expect(hosts(filterIndex(sorted, { ...NO_FILTER, q: 'pc', groupId: 'g-b', enabledOnly: true }))).toEqual([]);
  });
});

describe('clients sort', () => {
  const order = (id: Parameters<typeof sortIndex>[1]) => sortIndex(index, id).map((r) => r.client.hostname);
  it('sorts IPs numerically, blanks last in both directions', () => {
    expect(order({ id: 'ipAddress', desc: false })).toEqual(['lab-2', 'pc-01', 'PC-02', 'lab-1']);
    expect(order({ id: 'ipAddress', desc: true })).toEqual(['PC-02', 'pc-01', 'lab-2', 'lab-1']);
  });
  it('sorts by boot count, group name, image name and last boot', () => {
    expect(order({ id: 'bootCount', desc: true })).toEqual(['pc-01', 'PC-02', 'lab-1', 'lab-2']);
    expect(order({ id: 'group', desc: false })).toEqual(['lab-2', 'PC-02', 'pc-01', 'lab-1']);
    expect(order({ id: 'image', desc: false })).toEqual(['lab-2', 'PC-02', 'lab-1', 'pc-01']);
    expect(order({ id: 'lastBootAt', desc: true })[0]).toBe('lab-1');
    expect(order({ id: 'diskPolicy', desc: false })[0]).toBe('lab-2');
  });
  it('sorts booleans and MACs, and does not touch its input', () => {
    expect(order({ id: 'enabled', desc: false })[0]).toBe('pc-01');
    expect(order({ id: 'pending', desc: true })[0]).toBe('lab-1');
    expect(order({ id: 'macAddress', desc: true })[0]).toBe('lab-2');
    expect(index[0].client.hostname).toBe('PC-02');
  });
  it('orders IPv4 addresses as numbers', () => {
    expect(ipToNumber('10.0.0.9')).toBeLessThan(ipToNumber('10.0.0.10'));
    expect(ipToNumber(null)).toBe(Number.POSITIVE_INFINITY);
  });
  it('filters 10,000 rows in a few milliseconds', () => {
    const many = Array.from({ length: 10_000 }, (_, i) =>
      client({ hostname: `host-${String(i).padStart(5, '0')}`, macAddress: `52:54:00:00:${(i >> 8).toString(16)}:${(i & 255).toString(16)}` }),
    );
    const big = sortIndex(indexClients(many, names), null);
    const t0 = performance.now();
    for (let i = 0; i < 10; i++) filterIndex(big, { ...NO_FILTER, q: `host-0${i}` });
    expect(filterIndex(big, { ...NO_FILTER, q: 'host-012' })).toHaveLength(100);
    expect((performance.now() - t0) / 10).toBeLessThan(50);
  });
});
