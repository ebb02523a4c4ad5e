import { QueryFailedError, Repository } from 'typeorm';
import { Client } from '../clients/client.entity';
import { ClientDirectory, pendingHostname } from './client-directory';

function row(mac: string, over: Partial<Client> = {}): Client {
  return Object.assign(new Client(), {
    id: `id-${mac}`,
    macAddress: mac,
    hostname: 'pc1',
    enabled: true,
    pending: false,
    ipAddress: null,
    assignedImageId: null,
    bootLoader: null,
    ...over,
  });
}

function fakeRepo(rows: Client[]) {
  const findOne = jest.fn(async ({ where }: { where: { macAddress: string } }) => {
    await new Promise((r) => setImmediate(r));
    return rows.find((r) => r.macAddress === where.macAddress) ?? null;
  });
  const save = jest.fn(async (c: Client) => c);
  const create = jest.fn((c: Partial<Client>) => Object.assign(new Client(), { id: 'new-id', ...c }));
  return { repo: { findOne, save, create } as unknown as Repository<Client>, findOne, save, rows };
}

describe('ClientDirectory', () => {
  it('caches hits and misses for the TTL, shares concurrent lookups, and normalises MACs', async () => {
    let now = 1000;
    const { repo, findOne } = fakeRepo([row('52:54:00:00:00:01', { ipAddress: '10.0.0.5/32' })]);
    const dir = new ClientDirectory(repo, { ttlMs: 5000, now: () => now });
    const [a, b] = await Promise.all([dir.lookup('52-54-00-00-00-01'), dir.lookup('525400000001')]);
    expect(a).toEqual(b);
    expect(a).toMatchObject({ id: 'id-52:54:00:00:00:01', mac: '52:54:00:00:00:01', ipAddress: '10.0.0.5' });
    expect(await dir.lookup('52:54:00:00:00:02')).toBeNull();
    expect(await dir.lookup('52:54:00:00:00:02')).toBeNull();
    expect(findOne).toHaveBeenCalledTimes(2);
    now += 5001;
    await dir.lookup('52:54:00:00:00:01');
    expect(findOne).toHaveBeenCalledTimes(3);
    dir.invalidate('52:54:00:00:00:01');
    await dir.lookup('52:54:00:00:00:01');
    expect(findOne).toHaveBeenCalledTimes(4);
    expect(await dir.lookup('not-a-mac')).toBeNull();
  });

  it('bounds the cache, evicting the oldest entry', async () => {
    const { repo } = fakeRepo([]);
    const dir = new ClientDirectory(repo, { maxEntries: 3 });
    for (let i = 0; i < 5; i++) await dir.lookup(`52:54:00:00:00:0${i}`);
    expect(dir.cacheStats().size).toBe(3);
  });

  it('registers an unknown MAC as a disabled pending client', async () => {
    const { repo, save } = fakeRepo([]);
    const dir = new ClientDirectory(repo);
    const facts = await dir.register('52:54:00:AB:CD:EF', 'range-1');
    expect(save).toHaveBeenCalledWith(
      expect.objectContaining({ macAddress: '52:54:00:ab:cd:ef', hostname: 'pending-525400abcdef', enabled: false, pending: true }),
    );
    expect(facts).toMatchObject({ enabled: false, pending: true, hostname: pendingHostname('52:54:00:ab:cd:ef') });
    // The cache now knows it: no "unknown" answer for the next packet.
    expect(await dir.lookup('52:54:00:ab:cd:ef')).toMatchObject({ pending: true });
  });

  it('returns the winner when a concurrent registration hit the unique index (23505)', async () => {
    const { repo, save, rows } = fakeRepo([]);
    save.mockImplementationOnce(async () => {
      rows.push(row('52:54:00:00:00:09', { id: 'winner', enabled: false, pending: true }));
      const driverError = Object.assign(new Error('duplicate key'), { code: '23505' });
      throw new QueryFailedError('INSERT', [], driverError);
    });
    const dir = new ClientDirectory(repo);
    await expect(dir.register('52:54:00:00:00:09', 'r')).resolves.toMatchObject({ id: 'winner' });
  });
});
