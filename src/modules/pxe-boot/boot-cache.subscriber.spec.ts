import type { DataSource } from 'typeorm';
import { BootSession, Client, ClientDisk, ClientGroup, Image, ImageSnapshot } from '../catalog';
import { IscsiExport } from '../iscsi';
import { BootCacheSubscriber } from './boot-cache.subscriber';
import type { BootPreparation } from './boot-preparation.service';

function setup() {
  const dropped: string[] = []; // client ids, or 'all'
  const preparation = { invalidate: (id?: string) => void dropped.push(id ?? 'all') } as unknown as BootPreparation;
  const ds = { subscribers: [] as unknown[] } as unknown as DataSource;
  const sub = new BootCacheSubscriber(ds, preparation);
  const ev = (target: unknown, entity?: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    ({ metadata: { target }, entity, ...extra }) as never;
  return { sub, dropped, ev, ds };
}

describe('BootCacheSubscriber', () => {
  it('a client change drops that client; a group, image or version change drops all', () => {
    const { sub, dropped, ev, ds } = setup();
    expect(ds.subscribers).toContain(sub);
    sub.afterUpdate(ev(Client, { id: 'c1', hostname: 'x' }));
    sub.afterRemove(ev(Client, undefined, { entityId: 'c2' }));
    sub.afterUpdate(ev(ClientGroup, { id: 'g' }));
    sub.afterUpdate(ev(Image, { id: 'i' }));
    sub.afterInsert(ev(ImageSnapshot, { id: 'v' }));
    expect(dropped).toEqual(['c1', 'c2', 'all', 'all', 'all']);
  });

  it('a session reaching running (boot_count, last_boot_at) changes nothing a boot was prepared from; other query-builder client updates drop all', () => {
    const { sub, dropped, ev } = setup();
    sub.afterUpdate(ev(Client, { bootCount: () => '"boot_count" + 1', lastBootAt: () => 'now()' }));
    expect(dropped).toEqual([]);
    sub.afterUpdate(ev(Client, { enabled: false }));
    expect(dropped).toEqual(['all']);
  });

  it("a disk or export that goes drops its client (or all, when the event can't say which); their writes during a preparation don't", () => {
    const { sub, dropped, ev } = setup();
    sub.afterInsert(ev(ClientDisk, { clientId: 'c1' }));
    sub.afterUpdate(ev(ClientDisk, { state: 'ready' }));
    sub.afterUpdate(ev(IscsiExport, { backingPath: '/x' }));
    expect(dropped).toEqual([]);
    sub.afterRemove(ev(IscsiExport, { clientId: 'c1' }));
    sub.afterRemove(ev(ClientDisk, undefined));
    expect(dropped).toEqual(['c1', 'all']);
  });

  it('a client changed inside a transaction is dropped again when that transaction commits (a preparation may have read in between)', () => {
    const { sub, dropped, ev } = setup();
    const runner = { isTransactionActive: true };
    const other = { isTransactionActive: true };
    sub.afterUpdate(ev(Client, { id: 'c1', enabled: false }, { queryRunner: runner }));
    sub.afterRemove(ev(IscsiExport, { clientId: 'c2' }, { queryRunner: runner }));
    sub.afterUpdate(ev(Client, { id: 'c3', enabled: false }, { queryRunner: other }));
    expect(dropped).toEqual(['c1', 'c2', 'c3']);
    runner.isTransactionActive = false;
    sub.afterTransactionCommit({ queryRunner: runner } as never);
    expect(dropped).toEqual(['c1', 'c2', 'c3', 'c1', 'c2']);
    sub.afterTransactionCommit({ queryRunner: runner } as never); // told once
    expect(dropped).toHaveLength(5);
    // A transaction rolled back is forgotten: the next commit on its runner drops nothing of it.
    const rolled = { isTransactionActive: true };
    sub.afterUpdate(ev(Client, { id: 'c5', enabled: false }, { queryRunner: rolled }));
    rolled.isTransactionActive = false;
    sub.afterTransactionRollback({ queryRunner: rolled } as never);
    sub.afterTransactionCommit({ queryRunner: rolled } as never);
    expect(dropped).toEqual(['c1', 'c2', 'c3', 'c1', 'c2', 'c5']);
    // A change outside any transaction is not dropped again.
    sub.afterUpdate(ev(Client, { id: 'c4', enabled: false }, { queryRunner: { isTransactionActive: false } }));
    expect(dropped).toHaveLength(7);
  });

  it('boot sessions and other tables are not its business; the commit of a transaction that dropped all drops all once more', () => {
    const { sub, dropped, ev } = setup();
    const runner = { isTransactionActive: true };
    const unrelated = { isTransactionActive: false };
    sub.afterUpdate(ev(BootSession, { status: 'booting' }, { queryRunner: runner }));
    runner.isTransactionActive = false;
    sub.afterTransactionCommit({ queryRunner: runner } as never);
    expect(dropped).toEqual([]);
    runner.isTransactionActive = true;
    sub.afterUpdate(ev(Client, { id: 'c1', enabled: false }, { queryRunner: runner }));
    sub.afterUpdate(ev(Image, { id: 'i' }, { queryRunner: runner }));
    // Another transaction's commit meanwhile is not this one's: nothing more yet.
    sub.afterTransactionCommit({ queryRunner: unrelated } as never);
    expect(dropped).toEqual(['c1', 'all']);
    // A savepoint released inside it is not its commit either.
    sub.afterTransactionCommit({ queryRunner: runner } as never);
    expect(dropped).toEqual(['c1', 'all']);
    runner.isTransactionActive = false;
    sub.afterTransactionCommit({ queryRunner: runner } as never);
    sub.afterTransactionCommit({ queryRunner: runner } as never);
    expect(dropped).toEqual(['c1', 'all', 'all']);
  });
});
