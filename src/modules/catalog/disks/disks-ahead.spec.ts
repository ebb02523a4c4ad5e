import type { DataSource } from 'typeorm';
import { loadConfig } from '@config/config.loader';
import { DomainError, NotFoundError } from '@common/errors/domain-error';
import type { StorageDriver } from '../../storage';
import type { CloneMethod } from '../../storage/storage-driver';
import { Client } from '../clients/client.entity';
import { ClientGroup } from '../groups/client-group.entity';
import { ImageSnapshot } from '../versions/image-snapshot.entity';
import { ClientDisk } from './client-disk.entity';
import type { ClientDisksService } from './client-disks.service';
import { DisksAhead } from './disks-ahead.service';

function setup(
  opts: { method?: CloneMethod; ahead?: string; fail?: (id: string) => Error | null; candidates?: string[]; gate?: Promise<void> } = {},
) {
  let candidates = opts.candidates ?? ['a', 'b', 'c', 'd', 'e', 'f'];
  const made: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const disks = {
    ensure: jest.fn(async (id: string) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setImmediate(r));
      await opts.gate;
      inFlight--;
      const err = opts.fail?.(id) ?? null;
      if (err) throw err;
      made.push(id);
      candidates = candidates.filter((c) => c !== id); // it has a disk now
      return {};
    }),
  } as unknown as ClientDisksService;
  const driver = { status: jest.fn(async () => ({ cloneMethod: opts.method ?? 'overlay' })) } as unknown as StorageDriver;
  const query = jest.fn(async () => candidates.map((id) => ({ id })));
  const ds = { subscribers: [] as unknown[], query } as unknown as DataSource;
  const ahead = new DisksAhead(loadConfig({ DLS_DISKS_AHEAD: opts.ahead ?? 'true' }), disks, driver, ds, { debounceMs: 5, concurrency: 2 });
  const ev = (target: unknown, entity?: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    ({ metadata: { target }, entity, ...extra }) as never;
  return { ahead, made, disks, query, ds, ev, maxInFlight: () => maxInFlight, setCandidates: (c: string[]) => (candidates = c) };
}

describe('DisksAhead', () => {
  it('at start makes the disk of every candidate client, a few at a time', async () => {
    const s = setup();
    expect(s.ds.subscribers).toContain(s.ahead);
    s.ahead.onApplicationBootstrap();
    await s.ahead.flush();
    expect(s.made.sort()).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    expect(s.maxInFlight()).toBe(2);
    expect(s.ahead.madeCount).toBe(6);
    await s.ahead.onModuleDestroy();
  });

  it('makes nothing ahead where a disk is a full copy, or when DLS_DISKS_AHEAD=false', async () => {
    const copy = setup({ method: 'copy' });
    copy.ahead.onApplicationBootstrap();
    await copy.ahead.flush();
    expect(copy.made).toEqual([]);
    expect(copy.query).not.toHaveBeenCalled();

    const off = setup({ ahead: 'false' });
    expect(off.ds.subscribers).not.toContain(off.ahead);
    off.ahead.onApplicationBootstrap();
    off.ahead.schedule();
    await off.ahead.flush();
    expect(off.disks.ensure).not.toHaveBeenCalled();
  });

  it('stops the scan at the first lack of space (507): the rest get their disks at boot', async () => {
    const full = new DomainError('insufficient_storage', 'INSUFFICIENT_STORAGE', 'only 3 MiB free');
    const s = setup({ fail: (id) => (id === 'b' ? full : null), candidates: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'] });
    s.ahead.onApplicationBootstrap();
    await s.ahead.flush();
    expect(s.made.length).toBeLessThan(7);
    expect(s.made).not.toContain('b');
    expect((s.disks.ensure as jest.Mock).mock.calls.length).toBeLessThan(8);
    await s.ahead.onModuleDestroy();
  });

  it('skips a client it could not make a disk for until that client, its group or a version changes', async () => {
    let refuse = true;
    const s = setup({ fail: (id) => (id === 'x' && refuse ? new NotFoundError('published version of image', 'i1') : null), candidates: ['x'] });
    s.ahead.onApplicationBootstrap();
    await s.ahead.flush();
    expect(s.disks.ensure).toHaveBeenCalledTimes(1);

    s.ahead.afterUpdate(s.ev(Client, { id: 'other', hostname: 'h' }));
    await s.ahead.flush();
    expect(s.disks.ensure).toHaveBeenCalledTimes(1); // scanned, but x is still skipped

    refuse = false;
    s.ahead.afterInsert(s.ev(ImageSnapshot, { id: 'v2' }));
    await s.ahead.flush();
    expect(s.made).toEqual(['x']);
    await s.ahead.onModuleDestroy();
  });

  it('a boot-count bump or a client removal does not scan; a disk removal, a client, group or version change does (debounced into one scan)', async () => {
    const s = setup({ candidates: [] });
    s.ahead.onApplicationBootstrap();
    await s.ahead.flush();
    s.query.mockClear();
    s.ahead.afterUpdate(s.ev(Client, { bootCount: () => '"boot_count" + 1', lastBootAt: () => 'now()' }));
    s.ahead.afterRemove(s.ev(Client, undefined, { entityId: 'c1' }));
    await s.ahead.flush();
    expect(s.query).not.toHaveBeenCalled();

    s.ahead.afterUpdate(s.ev(ClientDisk, { clientId: 'c2', state: 'ready' })); // a disk being made: no rescan
    await s.ahead.flush();
    expect(s.query).not.toHaveBeenCalled();
    s.ahead.afterRemove(s.ev(ClientDisk, undefined, { databaseEntity: { clientId: 'c2' } })); // a disk went: made again
    await s.ahead.flush();
    expect(s.query).toHaveBeenCalledTimes(1);
    s.query.mockClear();

    s.setCandidates(['n1', 'n2']);
    s.ahead.afterInsert(s.ev(Client, { id: 'n1' }));
    s.ahead.afterInsert(s.ev(Client, { id: 'n2' }));
    s.ahead.afterUpdate(s.ev(ClientGroup, { id: 'g' }));
    await s.ahead.flush();
    expect(s.query).toHaveBeenCalledTimes(1);
    expect(s.made.sort()).toEqual(['n1', 'n2']);
    await s.ahead.onModuleDestroy();
  });

  it('after shutdown begins, no disk is started and the running ones end before the storage closes', async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const s = setup({ candidates: Array.from({ length: 20 }, (_, i) => `c${i}`), gate });
    s.ahead.onApplicationBootstrap();
    while ((s.disks.ensure as jest.Mock).mock.calls.length < 2) await new Promise((r) => setTimeout(r, 5));
    let destroyed = false;
    const destroying = s.ahead.onModuleDestroy().then(() => (destroyed = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(destroyed).toBe(false); // waits for the two disks being made
    open();
    await destroying;
    expect(s.made.sort()).toEqual(['c0', 'c1']);
    s.ahead.schedule();
    await new Promise((r) => setTimeout(r, 30));
    expect(s.disks.ensure).toHaveBeenCalledTimes(2);
  });
});
