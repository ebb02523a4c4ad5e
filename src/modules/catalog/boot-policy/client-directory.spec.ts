import { Repository } from 'typeorm';
import { AuditService } from '../../audit';
import { Client } from '../clients/client.entity';
import { ClientDirectory, pendingHostname, touchesBootFacts } from './client-directory';

interface Row {
  id: string;
  mac_address: string;
  hostname: string;
  enabled: boolean;
  pending: boolean;
  ip: string | null;
  assigned_image_id: string | null;
  boot_loader: null;
  group_id: string | null;
}

function row(mac: string, over: Partial<Row> = {}): Row {
  return {
    id: `id-${mac}`,
    mac_address: mac,
    hostname: 'pc1',
    enabled: true,
    pending: false,
    ip: null,
    assigned_image_id: null,
    boot_loader: null,
    group_id: null,
    ...over,
  };
}

/** A `clients` table in memory answering the statements ClientDirectory sends. */
function fakeTable(rows: Row[]) {
  const statements: string[] = [];
  let failLoad = false;
  /** While set, every read takes its answer at once but returns it only when the test releases it (held[i]()). */
  let holding = false;
  const held: (() => void)[] = [];
  const tick = () => new Promise((r) => setImmediate(r));
  const answer = async <T>(read: () => T): Promise<T> => {
    if (!holding) return read();
    const snapshot = read();
    await new Promise<void>((release) => held.push(release));
    return snapshot;
  };
  const query = jest.fn(async (sql: string, params: unknown[] = []) => {
    await tick();
    statements.push(sql.trim().split(/\s+/)[0]);
    if (sql.startsWith('SET LOCAL')) return [];
    if (sql.startsWith('INSERT INTO clients')) {
      const [macs, hostnames, groups] = params as [string[], string[], (string | null)[]];
      const out: Row[] = [];
      macs.forEach((mac, i) => {
        if (rows.some((r) => r.mac_address === mac)) return;
        const r = row(mac, { id: `new-${mac}`, hostname: hostnames[i], enabled: false, pending: true, group_id: groups[i] });
        rows.push(r);
        out.push(r);
      });
      return out;
    }
    if (sql.includes('= ANY')) return rows.filter((r) => (params[0] as string[]).includes(r.mac_address));
    if (failLoad) throw new Error('database down');
    return answer(() => rows.map((r) => ({ ...r })));
  });
  const findOne = jest.fn(async ({ where }: { where: { macAddress: string } }) => {
    await tick();
    statements.push('findOne');
    const found = await answer(() => rows.find((x) => x.mac_address === where.macAddress));
    const r = found && { ...found };
    return r
      ? Object.assign(new Client(), {
          id: r.id,
          macAddress: r.mac_address,
          hostname: r.hostname,
          enabled: r.enabled,
          pending: r.pending,
          ipAddress: r.ip,
          assignedImageId: r.assigned_image_id,
          bootLoader: null,
          groupId: r.group_id,
        })
      : null;
  });
  const manager = { transaction: async <T>(work: (em: { query: typeof query }) => Promise<T>) => work({ query }) };
  return {
    repo: { query, findOne, manager } as unknown as Repository<Client>,
    rows,
    statements,
    failNextLoads: (v: boolean) => (failLoad = v),
    hold: (v: boolean) => (holding = v),
    held,
  };
}

const settle = async () => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
};

describe('ClientDirectory', () => {
  it('answers known and unknown MACs and reservations from memory after loading every client once', async () => {
    const t = fakeTable([row('52:54:00:00:00:01', { ip: '10.0.0.5/32' }), row('52:54:00:00:00:02')]);
    const dir = new ClientDirectory(t.repo, { resyncMs: 0 });
    await dir.onApplicationBootstrap();
    expect(t.statements).toEqual(['SELECT']);
    const [a, b] = await Promise.all([dir.lookup('52-54-00-00-00-01'), dir.lookup('525400000001')]);
    expect(a).toEqual(b);
    expect(a).toMatchObject({ id: 'id-52:54:00:00:00:01', mac: '52:54:00:00:00:01', ipAddress: '10.0.0.5' });
    expect(await dir.lookup('52:54:00:00:00:99')).toBeNull();
    expect(await dir.lookup('not-a-mac')).toBeNull();
    expect(dir.reservationOwner('10.0.0.5')).toBe('52:54:00:00:00:01');
    expect(dir.reservationOwner('10.0.0.6')).toBeNull();
    expect(t.statements).toEqual(['SELECT']); // no query per lookup, hit or miss
    expect(dir.cacheStats()).toMatchObject({ size: 2, misses: 0, loaded: true });
  });

  it('a changed MAC is asked from the database until its row was re-read, then served from memory again', async () => {
    const t = fakeTable([row('52:54:00:00:00:01')]);
    const dir = new ClientDirectory(t.repo, { resyncMs: 0 });
    await dir.onApplicationBootstrap();
    t.rows[0].enabled = false;
    t.rows[0].ip = '10.0.0.9';
    dir.invalidate('52:54:00:00:00:01');
    expect(await dir.lookup('52:54:00:00:00:01')).toMatchObject({ enabled: false }); // dirty: asked
    await settle();
    const before = t.statements.length;
    expect(await dir.lookup('52:54:00:00:00:01')).toMatchObject({ enabled: false, ipAddress: '10.0.0.9' });
    expect(t.statements.length).toBe(before);
    expect(dir.reservationOwner('10.0.0.9')).toBe('52:54:00:00:00:01');
    // A client created elsewhere (its event names its MAC) is known without a restart.
    t.rows.push(row('52:54:00:00:00:07'));
    dir.invalidate('52:54:00:00:00:07');
    await settle();
    expect(await dir.lookup('52:54:00:00:00:07')).toMatchObject({ id: 'id-52:54:00:00:00:07' });
  });

  it('a change that names no MAC reloads the index; lookups meanwhile ask the database', async () => {
    const t = fakeTable([row('52:54:00:00:00:01'), row('52:54:00:00:00:02')]);
    const dir = new ClientDirectory(t.repo, { resyncMs: 0 });
    await dir.onApplicationBootstrap();
    for (const r of t.rows) r.enabled = false;
    t.rows.splice(1, 1);
    dir.invalidate();
    expect(await dir.lookup('52:54:00:00:00:01')).toMatchObject({ enabled: false });
    await settle();
    expect(dir.cacheStats().size).toBe(1);
    const before = t.statements.length;
    expect(await dir.lookup('52:54:00:00:00:02')).toBeNull();
    expect(t.statements.length).toBe(before);
  });

  it('registers unknown MACs as disabled pending clients, several in one statement, once per MAC', async () => {
    const t = fakeTable([]);
    const dir = new ClientDirectory(t.repo, { resyncMs: 0 });
    await dir.onApplicationBootstrap();
    const facts = await Promise.all([
      dir.register('52:54:00:AB:CD:EF', 'range-1'),
      dir.register('52:54:00:ab:cd:ef', 'range-1'),
      dir.register('52:54:00:00:00:02', 'range-1'),
    ]);
    expect(t.statements.filter((s) => s === 'INSERT')).toHaveLength(1);
    expect(t.statements).toContain('SET'); // asynchronous commit: no disk flush before the OFFER
    expect(t.rows).toHaveLength(2);
    expect(facts[0]).toMatchObject({ enabled: false, pending: true, hostname: pendingHostname('52:54:00:ab:cd:ef') });
    expect(facts[1].id).toBe(facts[0].id);
    const before = t.statements.length;
    expect(await dir.lookup('52:54:00:ab:cd:ef')).toMatchObject({ pending: true });
    expect(await dir.register('52:54:00:00:00:02', 'range-1')).toMatchObject({ id: facts[2].id });
    expect(t.statements.length).toBe(before);
  });

  it('audits a batch of registrations with one statement, once per new client, off the OFFER path', async () => {
    const t = fakeTable([row('52:54:00:00:00:07')]);
    const recordMany = jest.fn(async () => undefined);
    const record = jest.fn(async () => undefined);
    const dir = new ClientDirectory(t.repo, { resyncMs: 0 }, { recordMany, record } as unknown as AuditService);
    await dir.onApplicationBootstrap();
    t.rows.push(row('52:54:00:00:00:08', { id: 'other-node' })); // registered elsewhere: not ours to audit
    await Promise.all([
      dir.register('52:54:00:00:00:01', 'range-1'),
      dir.register('52:54:00:00:00:01', 'range-1'),
      dir.register('52:54:00:00:00:02', 'range-2'),
      dir.register('52:54:00:00:00:08', 'range-2'),
    ]);
    expect(record).not.toHaveBeenCalled();
    expect(recordMany).toHaveBeenCalledTimes(1);
    expect((recordMany.mock.calls[0] as unknown as [unknown[]])[0]).toEqual([
      {
        action: 'dhcp.client-registered',
        entityType: 'clients',
        entityId: 'new-52:54:00:00:00:01',
        details: { mac: '52:54:00:00:00:01', rangeId: 'range-1', groupId: null },
      },
      {
        action: 'dhcp.client-registered',
        entityType: 'clients',
        entityId: 'new-52:54:00:00:00:02',
        details: { mac: '52:54:00:00:00:02', rangeId: 'range-2', groupId: null },
      },
    ]);
  });

  it('returns the existing client when another node registered the MAC first', async () => {
    const t = fakeTable([]);
    const dir = new ClientDirectory(t.repo, { resyncMs: 0 });
    await dir.onApplicationBootstrap();
    t.rows.push(row('52:54:00:00:00:09', { id: 'winner', enabled: false, pending: true }));
    await expect(dir.register('52:54:00:00:00:09', 'r')).resolves.toMatchObject({ id: 'winner' });
  });

  it('asks the database per MAC while the index cannot be loaded', async () => {
    const t = fakeTable([row('52:54:00:00:00:01')]);
    t.failNextLoads(true);
    const dir = new ClientDirectory(t.repo, { resyncMs: 0 });
    await dir.onApplicationBootstrap();
    expect(await dir.lookup('52:54:00:00:00:01')).toMatchObject({ id: 'id-52:54:00:00:00:01' });
    expect(await dir.lookup('52:54:00:00:00:02')).toBeNull();
    expect(t.statements.filter((s) => s === 'findOne')).toHaveLength(2);
    dir.onModuleDestroy();
  });

  // A client inserted in a transaction is reported twice: by the insert (the re-read may run before the commit and
  // see no row) and by the commit. The two re-reads run on different connections and may finish in either order.
  it.each([
    ['the re-read before the commit finishes last', [1, 0]],
    ['the re-read before the commit finishes first', [0, 1]],
  ])('a client inserted in a transaction is known once it committed: %s', async (_, order) => {
    const t = fakeTable([]);
    const dir = new ClientDirectory(t.repo, { resyncMs: 0 });
    await dir.onApplicationBootstrap();
    t.hold(true);
    dir.invalidate('52:54:00:00:00:05'); // afterInsert, inside the transaction: the read sees no row yet
    await settle();
    t.rows.push(row('52:54:00:00:00:05'));
    dir.invalidate('52:54:00:00:00:05'); // afterTransactionCommit
    await settle();
    expect(t.held).toHaveLength(2);
    t.hold(false);
    for (const i of order) {
      t.held[i]();
      await settle();
    }
    const before = t.statements.length;
    expect(await dir.lookup('52:54:00:00:00:05')).toMatchObject({ id: 'id-52:54:00:00:00:05' });
    expect(t.statements.length).toBe(before); // from memory
  });

  it('a full reload that read before a change does not put the older row back over the re-read of that change', async () => {
    const t = fakeTable([row('52:54:00:00:00:01')]);
    const dir = new ClientDirectory(t.repo, { resyncMs: 0 });
    await dir.onApplicationBootstrap();
    t.hold(true);
    const reload = dir.reload(); // the periodic re-read: its answer has the client enabled
    await settle();
    t.rows[0].enabled = false;
    dir.invalidate('52:54:00:00:00:01'); // the admin disabled it: re-read at once
    await settle();
    expect(t.held).toHaveLength(2);
    t.hold(false);
    t.held[1](); // the re-read (disabled) lands first …
    await settle();
    t.held[0](); // … then the older full listing
    await reload;
    await settle();
    const before = t.statements.length;
    expect(await dir.lookup('52:54:00:00:00:01')).toMatchObject({ enabled: false });
    expect(t.statements.length).toBe(before);
    // The next reload, started after the change, is trusted again for that MAC.
    t.rows[0].enabled = true;
    await dir.reload();
    expect(await dir.lookup('52:54:00:00:00:01')).toMatchObject({ enabled: true });
  });

  it('tells which updated columns matter to boot facts', () => {
    expect(touchesBootFacts(['bootCount', 'lastBootAt'])).toBe(false);
    expect(touchesBootFacts(['enabled'])).toBe(true);
    expect(touchesBootFacts([])).toBe(true);
  });
});
